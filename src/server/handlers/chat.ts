import type { Engine, EngineStreamEvent, StreamTarget } from '../../engine/index.js';
import type { ChatServiceServer, StreamChatRequest, StreamChatResponse } from '../../gen/orchestrator/v1/chat.js';
import { StreamStrategy } from '../../gen/orchestrator/v1/common.js';
import { serverStream, unary, type CallDeps } from '../call.js';
import { encodeAnswer, encodeAttempt, encodeCacheInfo, encodeDecision, encodeFinish, encodeToolCalls, encodeUsage } from '../encode.js';
import { round3 } from '../../domain/latency.js';
import { RequestValidator, type ValidationLimits } from '../validate.js';
import { batchHandler, type BatchLimits } from './batch.js';
import { answerChat } from './chat-answer.js';
import { isSimulatedProvider } from '../../domain/simulated.js';
import { extend } from '../../domain/extend.js';

/** ChatService: decode and validate, call the engine with the call's signal, encode. */
export function chatService(deps: CallDeps, engine: Engine, limits: ValidationLimits & BatchLimits): ChatServiceServer {
  return {
    chat: unary(deps, async (req, ctx) => answerChat(engine, limits, req, ctx)),

    streamChat: serverStream(
      deps,
      (req: StreamChatRequest, ctx) => {
        const v = new RequestValidator(limits);
        const input = v.conversation(req);
        const model = v.model(req.model);
        const target = streamTarget(v, req);
        const tags = v.tags(req.metadata?.tags);
        v.check();
        if (tags) ctx.tag?.(tags);
        return engine.stream({ model, target, input, ctx, refuseStale: req.refuseStale ?? false });
      },
      (event, ctx) => encodeStreamEvent(event, ctx.requestId),
    ),

    race: unary(deps, async (req, ctx) => {
      const v = new RequestValidator(limits);
      const input = v.conversation(req);
      const primary = v.model(req.model);
      const racers = v.models(req.models);
      v.nonNegative('hedge_delay_ms', req.hedgeDelayMs);
      const tags = v.tags(req.metadata?.tags);
      v.check();
      if (tags) ctx.tag?.(tags);
      const answer = await engine.race({
        model: primary,
        racers,
        hedgeDelayMs: req.hedgeDelayMs,
        input,
        ctx,
        refuseStale: req.refuseStale ?? false,
      });
      return extend(encodeAnswer(answer, ctx.requestId), encodeCacheInfo(answer));
    }),

    fallback: unary(deps, async (req, ctx) => {
      const v = new RequestValidator(limits);
      const input = v.conversation(req);
      const primary = v.model(req.model);
      const chain = v.models(req.models);
      v.positive('attempt_timeout_ms', req.attemptTimeoutMs);
      const defaultMessage = v.defaultMessage(req.defaultMessage);
      const tags = v.tags(req.metadata?.tags);
      v.check();
      if (tags) ctx.tag?.(tags);
      const answer = await engine.fallback({
        model: primary,
        chain,
        attemptTimeoutMs: req.attemptTimeoutMs,
        defaultMessage,
        disableDefaultMessage: req.disableDefaultMessage,
        input,
        ctx,
        refuseStale: req.refuseStale ?? false,
      });
      return extend(encodeAnswer(answer, ctx.requestId), {
        providerUsed: answer.provider,
        modelUsed: answer.model,
        fallbackTriggered: answer.fallbackTriggered,
        isDefaultMessage: answer.isDefaultMessage,
        ...encodeCacheInfo(answer),
      });
    }),

    batch: batchHandler(deps, engine, limits),
  };
}

const MODES: ReadonlyMap<StreamStrategy, StreamTarget['mode']> = new Map([
  [StreamStrategy.STREAM_STRATEGY_UNSPECIFIED, 'single'],
  [StreamStrategy.STREAM_STRATEGY_SINGLE, 'single'],
  [StreamStrategy.STREAM_STRATEGY_FALLBACK, 'fallback'],
  [StreamStrategy.STREAM_STRATEGY_RACE, 'race'],
]);

function streamTarget(v: RequestValidator, req: StreamChatRequest): StreamTarget {
  const mode = MODES.get(req.strategy);
  if (!mode) v.add('strategy', 'must be STREAM_STRATEGY_SINGLE, STREAM_STRATEGY_FALLBACK or STREAM_STRATEGY_RACE');
  const route = v.route(req.route, req.model);
  // UNSPECIFIED and SINGLE differ on the wire: a route asks for the strategy unset or FALLBACK.
  if (route && (mode === 'race' || req.strategy === StreamStrategy.STREAM_STRATEGY_SINGLE || req.models.length > 0)) {
    v.add('route', 'a routed stream takes its chain from the ranking: leave strategy unset (or FALLBACK) and models empty');
  }
  if (!route && (mode ?? 'single') === 'single' && req.models.length > 0) {
    v.add('models', 'only with STREAM_STRATEGY_FALLBACK or STREAM_STRATEGY_RACE');
  }
  if (mode !== 'race' && req.hedgeDelayMs !== undefined) v.add('hedge_delay_ms', 'only with STREAM_STRATEGY_RACE');
  if (req.restartOnFailure && !route && mode !== 'fallback') {
    v.add('restart_on_failure', 'only with STREAM_STRATEGY_FALLBACK or a route: the next model of the chain restarts the answer');
  }
  v.nonNegative('hedge_delay_ms', req.hedgeDelayMs);
  v.positive('first_token_timeout_ms', req.firstTokenTimeoutMs);
  v.positive('inter_token_timeout_ms', req.interTokenTimeoutMs);
  return {
    mode: mode ?? 'single',
    models: v.models(req.models),
    hedgeDelayMs: req.hedgeDelayMs,
    restartOnFailure: req.restartOnFailure,
    firstTokenTimeoutMs: req.firstTokenTimeoutMs,
    interTokenTimeoutMs: req.interTokenTimeoutMs,
    route,
  };
}

function encodeStreamEvent(event: EngineStreamEvent, requestId: string): StreamChatResponse {
  switch (event.type) {
    case 'started':
      return {
        event: {
          $case: 'started',
          started: {
            requestId,
            model: event.model,
            provider: event.provider,
            simulated: isSimulatedProvider(event.provider),
            ...encodeCacheInfo(event),
          },
        },
      };
    case 'delta':
      return {
        event: {
          $case: 'delta',
          delta: {
            content: event.content,
            toolCalls: event.toolCall
              ? [
                  {
                    index: event.toolCall.index,
                    id: event.toolCall.id ?? '',
                    name: event.toolCall.name ?? '',
                    arguments: event.toolCall.arguments,
                  },
                ]
              : [],
            refusal: event.refusal ?? '',
          },
        },
      };
    case 'restarted':
      return {
        event: {
          $case: 'restarted',
          restarted: {
            failedModel: event.failedModel,
            reason: event.reason,
            nextModel: event.nextModel,
            nextProvider: event.nextProvider,
          },
        },
      };
    case 'completed':
      return {
        event: {
          $case: 'completed',
          completed: {
            finishReason: encodeFinish(event.finishReason),
            usage: encodeUsage(event.usage),
            costUsd: event.costUsd,
            latencyMs: round3(event.latencyMs),
            timeToFirstTokenMs: round3(event.timeToFirstTokenMs),
            attempts: event.attempts.map(encodeAttempt),
            model: event.model,
            provider: event.provider,
            fallbackTriggered: event.fallbackTriggered,
            routeDecision: event.decision ? encodeDecision(event.decision) : undefined,
            requestId,
            toolCalls: encodeToolCalls(event.toolCalls),
          },
        },
      };
  }
}
