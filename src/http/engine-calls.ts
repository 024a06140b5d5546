/**
 * Every call the HTTP API makes into the engine, in one module: a decoded OpenAI request
 * becomes the same engine call a gRPC request of the same meaning makes, so both doors give
 * the same answer.
 */
import type {
  Answer,
  BreakerState,
  CallContext,
  Engine,
  EngineStreamEvent,
  RouteDecision,
  RoutingProfileName,
  SizedMessage,
} from '../engine/index.js';
import type { CatalogModel } from '../catalog/catalog.js';
import type { Principal } from '../domain/principal.js';
import type { ChatCompletionRequest } from './chat-request.js';

/**
 * A unary answer with what only some strategies report, beside the engine's answer rather than
 * copied into a new object with it (a copy per call of every field, for three flags).
 */
export interface CompletionAnswer {
  readonly answer: Answer;
  readonly fallbackTriggered: boolean;
  readonly isDefaultMessage: boolean;
  readonly decision: RouteDecision | undefined;
}

export async function completeChat(engine: Engine, req: ChatCompletionRequest, ctx: CallContext): Promise<CompletionAnswer> {
  const { input } = req;
  if (req.route) {
    const answer = await engine.chat({ model: req.model, input, ctx, route: req.route, cache: req.cache });
    const first = answer.decision?.ranking.find((r) => r.excluded === undefined);
    return {
      answer,
      fallbackTriggered: first !== undefined && first.model.id !== answer.model,
      isDefaultMessage: false,
      decision: answer.decision,
    };
  }
  switch (req.strategy) {
    case 'race': {
      const answer = await engine.race({
        model: req.model,
        racers: req.models,
        hedgeDelayMs: req.hedgeDelayMs,
        input,
        ctx,
        refuseStale: req.cache.refuseStale ?? false,
      });
      return { answer, fallbackTriggered: false, isDefaultMessage: false, decision: undefined };
    }
    case 'fallback': {
      const answer = await engine.fallback({
        model: req.model,
        chain: req.models,
        attemptTimeoutMs: req.attemptTimeoutMs,
        defaultMessage: req.defaultMessage,
        disableDefaultMessage: req.disableDefaultMessage,
        input,
        ctx,
        refuseStale: req.cache.refuseStale ?? false,
      });
      return { answer, fallbackTriggered: answer.fallbackTriggered, isDefaultMessage: answer.isDefaultMessage, decision: undefined };
    }
    case 'single': {
      const answer = await engine.chat({ model: req.model, input, ctx, cache: req.cache });
      return { answer, fallbackTriggered: false, isDefaultMessage: false, decision: undefined };
    }
  }
}

/** Planning and admission run on the first pull; the iterator's return() cancels the upstream. */
export function streamChat(engine: Engine, req: ChatCompletionRequest, ctx: CallContext): AsyncGenerator<readonly EngineStreamEvent[]> {
  return engine.stream({
    model: req.model,
    target: {
      mode: req.strategy,
      models: req.models,
      hedgeDelayMs: req.hedgeDelayMs,
      restartOnFailure: req.restartOnFailure,
      firstTokenTimeoutMs: req.firstTokenTimeoutMs,
      interTokenTimeoutMs: req.interTokenTimeoutMs,
      route: req.route,
    },
    input: req.input,
    ctx,
    refuseStale: req.cache.refuseStale ?? false,
  });
}

export function rankModels(
  engine: Engine,
  request: {
    readonly profile: RoutingProfileName;
    readonly candidates: readonly string[];
    readonly prompt: string;
    readonly maxTokens: number | undefined;
    /** The prompt's size when larger than its text shows (a prompt too long for a URL). */
    readonly promptTokens: number | undefined;
  },
  ctx: CallContext,
): Promise<RouteDecision> {
  const message: SizedMessage = { role: 'user', content: request.prompt || 'Hello!', promptTokens: request.promptTokens };
  return engine.rank({
    route: { profile: request.profile, candidates: request.candidates.map((name, i) => ({ name, field: `candidates[${i}]` })) },
    input: { messages: [message], temperature: 0, maxTokens: request.maxTokens },
    ctx,
  });
}

/** The models `principal` may call (no key: all). */
export function catalogModels(engine: Engine, principal: Principal | undefined): readonly CatalogModel[] {
  return engine.listedModels(principal);
}

/** A model by id or alias; undefined when `principal` may not call it. */
export function findModel(engine: Engine, name: string, principal: Principal | undefined): CatalogModel | undefined {
  return engine.findListedModel(name, principal);
}

export function breakerState(engine: Engine, modelId: string): BreakerState {
  return engine.breakerState(modelId);
}
