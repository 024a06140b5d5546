import { performance } from 'node:perf_hooks';
import type { AttemptRecord } from '../../domain/chat.js';
import { OrchestratorError } from '../../domain/errors.js';
import { maxTokensFor, type Answer, type Plan } from '../answer.js';
import { cacheKey } from '../cache-key.js';
import type { CallContext } from '../context.js';
import type { EventSink } from '../events.js';
import type { AnswerCache, CachedAnswer } from '../ports.js';
import type { CachePolicy } from '../requests.js';

/**
 * Chat through the response cache: deterministic requests (or any, when the caller asks) are
 * answered from it; a fresh answer refreshes it; when every attempt failed and the caller
 * allows it, an expired answer is served, marked stale.
 */
export async function answerThroughCache(
  deps: { cache: AnswerCache | undefined; events: EventSink },
  plan: Plan,
  policy: CachePolicy,
  ctx: CallContext,
  run: () => Promise<Answer>,
): Promise<Answer> {
  const { cache } = deps;
  const only = plan.models[0];
  const cacheable = cache && only && (policy.mode !== 'auto' || plan.temperature === 0);
  if (!cacheable) return run();
  const key = cacheKey({ model: only.id, messages: plan.messages, temperature: plan.temperature, maxTokens: maxTokensFor(plan, only), sampling: plan.sampling });
  if (policy.mode !== 'bypass') {
    const cached = await cache.get(key);
    if (cached && !cached.stale) {
      deps.events.emit({ type: 'cache_lookup', outcome: 'hit' });
      return fromCache(cached, [], ctx);
    }
    deps.events.emit({ type: 'cache_lookup', outcome: 'miss' });
  }
  try {
    const answer = await run();
    await cache.set(key, answer);
    return { ...answer, cache: { hit: false, stale: false, ageMs: 0 } };
  } catch (err) {
    const stale = policy.allowStale && !ctx.signal.aborted ? await cache.get(key) : undefined;
    if (!stale) throw err;
    deps.events.emit({ type: 'cache_lookup', outcome: 'stale' });
    ctx.log.warn({ model: only.id }, 'every upstream attempt failed; serving a stale cached answer');
    return fromCache(stale, err instanceof OrchestratorError ? err.attempts : [], ctx);
  }
}

/** A cached answer as this call's answer: no upstream attempts (or the failed ones, when stale). */
function fromCache(cached: CachedAnswer, attempts: readonly AttemptRecord[], ctx: CallContext): Answer {
  return {
    ...cached.answer,
    costUsd: 0,
    latencyMs: performance.now() - ctx.startedAt,
    attempts,
    cache: { hit: true, stale: cached.stale, ageMs: Date.now() - cached.storedAt },
  };
}
