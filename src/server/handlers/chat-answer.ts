import type { CachePolicy, CallContext, Engine } from '../../engine/index.js';
import { CacheMode, type CacheOptions } from '../../gen/orchestrator/v1/chat.js';
import type { ChatRequest, ChatResponse } from '../../gen/orchestrator/v1/chat.js';
import { encodeAnswer, encodeCacheInfo, encodeDecision } from '../encode.js';
import { RequestValidator, type ValidationLimits } from '../validate.js';
import { extend } from '../../domain/extend.js';

/** A Chat request, one model or routed; shared by Chat and each Batch item. */
export async function answerChat(engine: Engine, limits: ValidationLimits, req: ChatRequest, ctx: CallContext): Promise<ChatResponse> {
  const v = new RequestValidator(limits);
  const input = v.conversation(req);
  const model = v.model(req.model);
  const route = v.route(req.route, req.model);
  const cache = cachePolicyOf(req.cache, v, route !== undefined);
  const tags = v.tags(req.metadata?.tags);
  v.check();
  if (tags) ctx.tag?.(tags);
  const answer = await engine.chat({ model, route, input, ctx, cache });
  return extend(
    encodeAnswer(answer, ctx.requestId),
    extend(answer.decision ? { routeDecision: encodeDecision(answer.decision) } : {}, encodeCacheInfo(answer)),
  );
}

const MODES: ReadonlyMap<CacheMode, CachePolicy['mode']> = new Map([
  [CacheMode.CACHE_MODE_UNSPECIFIED, 'auto'],
  [CacheMode.CACHE_MODE_USE, 'use'],
  [CacheMode.CACHE_MODE_BYPASS, 'bypass'],
]);

/**
 * An unknown mode is refused like an unknown role or profile, not read as the default. A routed
 * call never reads the cache (its model is known only once ranked), so asking it to, or to serve
 * a stale answer, is refused rather than ignored, as on the HTTP API.
 */
function cachePolicyOf(options: CacheOptions | undefined, v: RequestValidator, routed: boolean): CachePolicy {
  const mode = MODES.get(options?.mode ?? CacheMode.CACHE_MODE_UNSPECIFIED);
  if (!mode) v.add('cache.mode', 'must be CACHE_MODE_UNSPECIFIED, CACHE_MODE_USE or CACHE_MODE_BYPASS');
  if (routed && mode === 'use') v.add('cache.mode', 'CACHE_MODE_USE: only with a model; a routed request never reads the cache');
  if (routed && options?.allowStale) v.add('cache.allow_stale', 'only with a model; a routed request never reads the cache');
  return { mode: mode ?? 'auto', allowStale: options?.allowStale ?? false, refuseStale: options?.refuseStale ?? false };
}
