import type { Engine } from '../../engine/engine.js';
import type { EngineStreamEvent } from '../../engine/strategies/stream.js';
import type { ChatServiceServer, StreamChatResponse } from '../../gen/orchestrator/v1/chat.js';
import { serverStream, unary, type CallDeps } from '../call.js';
import { encodeAnswer, encodeAttempt, encodeFinish, encodeUsage, round3 } from '../encode.js';
import { RequestValidator, type ValidationLimits } from '../validate.js';

/** ChatService: decode and validate, call the engine with the call's signal, encode. */
export function chatService(deps: CallDeps, engine: Engine, limits: ValidationLimits): ChatServiceServer {
  return {
    chat: unary(deps, async (req, ctx) => {
      const v = new RequestValidator(limits);
      const input = v.conversation(req);
      const model = v.model(req.model);
      v.check();
      return encodeAnswer(await engine.chat(model, input, ctx), ctx.requestId);
    }),

    streamChat: serverStream(deps, async function* (req, ctx) {
      const v = new RequestValidator(limits);
      const input = v.conversation(req);
      const model = v.model(req.model);
      v.check();
      for await (const event of engine.stream(model, input, ctx)) yield encodeStreamEvent(event, ctx.requestId);
    }),

    race: unary(deps, async (req, ctx) => {
      const v = new RequestValidator(limits);
      const input = v.conversation(req);
      const primary = v.model(req.model);
      const racers = v.models(req.models);
      v.check();
      return encodeAnswer(await engine.race(primary, racers, input, ctx), ctx.requestId);
    }),

    fallback: unary(deps, async (req, ctx) => {
      const v = new RequestValidator(limits);
      const input = v.conversation(req);
      const primary = v.model(req.model);
      const chain = v.models(req.models);
      v.positive('attempt_timeout_ms', req.attemptTimeoutMs);
      v.check();
      const answer = await engine.fallback(
        primary,
        {
          chain,
          attemptTimeoutMs: req.attemptTimeoutMs,
          defaultMessage: req.defaultMessage,
          disableDefaultMessage: req.disableDefaultMessage,
        },
        input,
        ctx,
      );
      return {
        ...encodeAnswer(answer, ctx.requestId),
        providerUsed: answer.provider,
        modelUsed: answer.model,
        fallbackTriggered: answer.fallbackTriggered,
        isDefaultMessage: answer.isDefaultMessage,
      };
    }),
  };
}

function encodeStreamEvent(event: EngineStreamEvent, requestId: string): StreamChatResponse {
  switch (event.type) {
    case 'started':
      return { event: { $case: 'started', started: { requestId, model: event.model, provider: event.provider } } };
    case 'delta':
      return { event: { $case: 'delta', delta: { content: event.content } } };
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
          },
        },
      };
  }
}
