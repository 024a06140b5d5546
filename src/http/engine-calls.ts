/**
 * Every call the HTTP API makes into the engine, in one module: a decoded OpenAI request
 * becomes the same engine call a gRPC request of the same meaning makes, so both doors give
 * the same answer.
 */
import type { Answer, Engine, EngineStreamEvent } from '../engine/engine.js';
import type { CallContext } from '../engine/context.js';
import type { ChatInput } from '../domain/chat.js';
import type { RouteDecision } from '../engine/routing/router.js';
import type { RoutingProfileName } from '../engine/routing/profiles.js';
import type { CatalogModel } from '../catalog/catalog.js';
import type { BreakerState } from '../engine/resilience/breakers.js';
import type { ChatCompletionRequest } from './chat-request.js';

/** A unary answer with what only some strategies report. */
export interface CompletionAnswer extends Answer {
  readonly fallbackTriggered: boolean;
  readonly isDefaultMessage: boolean;
  readonly decision: RouteDecision | undefined;
}

export async function completeChat(engine: Engine, req: ChatCompletionRequest, ctx: CallContext): Promise<CompletionAnswer> {
  if (req.route) {
    await engine.prepareRouting();
    const answer = await engine.chatRouted(req.route, req.input, ctx);
    const first = answer.decision.ranking.find((r) => r.excluded === undefined);
    return { ...answer, fallbackTriggered: first !== undefined && first.model.id !== answer.model, isDefaultMessage: false };
  }
  switch (req.strategy) {
    case 'race': {
      const answer = await engine.race(req.model, req.models, { hedgeDelayMs: req.hedgeDelayMs }, req.input, ctx);
      return { ...answer, fallbackTriggered: false, isDefaultMessage: false, decision: undefined };
    }
    case 'fallback': {
      const answer = await engine.fallback(
        req.model,
        { chain: req.models, attemptTimeoutMs: req.attemptTimeoutMs, defaultMessage: req.defaultMessage, disableDefaultMessage: req.disableDefaultMessage },
        req.input,
        ctx,
      );
      return { ...answer, decision: undefined };
    }
    case 'single': {
      const answer = await engine.chat(req.model, req.input, ctx, req.cache);
      return { ...answer, fallbackTriggered: false, isDefaultMessage: false, decision: undefined };
    }
  }
}

/** Validated and planned before the first event; the iterator's return() cancels the upstream. */
export async function streamChat(engine: Engine, req: ChatCompletionRequest, ctx: CallContext): Promise<AsyncGenerator<EngineStreamEvent>> {
  if (req.route) await engine.prepareRouting();
  return engine.stream(
    req.model,
    {
      mode: req.strategy,
      models: req.models,
      hedgeDelayMs: req.hedgeDelayMs,
      restartOnFailure: req.restartOnFailure,
      firstTokenTimeoutMs: req.firstTokenTimeoutMs,
      interTokenTimeoutMs: req.interTokenTimeoutMs,
      route: req.route,
    },
    req.input,
    ctx,
  );
}

export async function rankModels(
  engine: Engine,
  request: { readonly profile: RoutingProfileName; readonly candidates: readonly string[]; readonly prompt: string; readonly maxTokens: number | undefined },
  ctx: CallContext,
): Promise<RouteDecision> {
  await engine.prepareRouting();
  const input: ChatInput = { messages: [{ role: 'user', content: request.prompt || 'Hello!' }], temperature: 0, maxTokens: request.maxTokens };
  const candidates = request.candidates.map((name, i) => ({ name, field: `candidates[${i}]` }));
  return engine.forPrincipal(engine.rank({ profile: request.profile, candidates }, input), ctx.principal);
}

export function catalogModels(engine: Engine): readonly CatalogModel[] {
  return engine.catalog.models;
}

export function findModel(engine: Engine, name: string): CatalogModel | undefined {
  return engine.catalog.find(name);
}

export function breakerState(engine: Engine, modelId: string): BreakerState {
  return engine.breakerState(modelId);
}
