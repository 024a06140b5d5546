import { performance } from 'node:perf_hooks';
import { totalCost, type AttemptRecord } from '../../domain/chat.js';
import { OrchestratorError } from '../../domain/errors.js';
import type { Provider } from '../../providers/types.js';
import { maxTokensFor, type Answer, type Plan } from '../answer.js';
import { cacheKey } from '../cache-key.js';
import type { CallContext } from '../context.js';
import type { EventSink } from '../events.js';
import type { AnswerCache, CachedAnswer } from '../ports.js';
import type { CachePolicy } from '../requests.js';
import { extend } from '../../domain/extend.js';

/**
 * Chat through the response cache: deterministic requests (or any, when the caller asks) are
 * answered from it; a fresh answer refreshes it; when every attempt failed and the caller
 * allows it (or the server's offline fallback is on and every attempt failed upstream), an
 * expired answer is served, marked stale.
 */
export function answerThroughCache(
  deps: OfflineDeps,
  plan: Plan,
  policy: CachePolicy,
  ctx: CallContext,
  run: () => Promise<Answer>,
): Promise<Answer> {
  const { cache } = deps;
  const only = plan.models[0];
  // Not through an async function when the cache stays out of it: one promise less per call.
  if (!cache || !only || (policy.mode === 'auto' && !deterministic(deps, plan, only))) return run();
  const key = cacheKey({
    model: only,
    messages: plan.messages,
    temperature: plan.temperature,
    maxTokens: maxTokensFor(plan, only),
    sampling: plan.sampling,
    tooling: plan.tooling,
  });
  return throughCache({ cache, key, model: only.id }, deps, policy, ctx, run);
}

async function throughCache(
  entry: { readonly cache: AnswerCache; readonly key: string; readonly model: string },
  deps: OfflineDeps,
  policy: CachePolicy,
  ctx: CallContext,
  run: () => Promise<Answer>,
): Promise<Answer> {
  const { cache, key } = entry;
  if (policy.mode !== 'bypass') {
    const cached = await cache.get(key, ctx.signal);
    if (cached && !cached.stale) {
      deps.events.emit({ type: 'cache_lookup', outcome: 'hit' });
      return fromCache(cached, [], ctx);
    }
    deps.events.emit({ type: 'cache_lookup', outcome: 'miss' });
  }
  try {
    const answer = await run();
    await cache.set(key, answer);
    return extend(answer, { cache: { hit: false, stale: false, ageMs: 0 } });
  } catch (err) {
    const stale = staleAllowed(policy, deps.offlineFallback, err) && !ctx.signal.aborted ? await cache.get(key, ctx.signal) : undefined;
    if (!stale) throw err;
    deps.events.emit({ type: 'cache_lookup', outcome: 'stale' });
    ctx.log.warn({ model: entry.model }, 'every upstream attempt failed; serving a stale cached answer');
    // Stale whatever its age (one another call stored meanwhile, or one a bypass did not read is
    // still fresh): it answers in place of the failure, after upstream calls that cost.
    return fromCache(extend(stale, { stale: true }), err instanceof OrchestratorError ? err.attempts : [], ctx);
  }
}

/**
 * A request's own allow_stale serves on any failure, as it always has; the server policy only
 * when upstream attempts were made and all failed, so a refusal of the gateway's own (a limit,
 * a bad request) is never hidden behind an old answer. refuse_stale wins over both.
 */
function staleAllowed(policy: CachePolicy, offlineFallback: boolean, err: unknown): boolean {
  if (policy.refuseStale) return false;
  if (policy.allowStale) return true;
  return offlineFallback && err instanceof OrchestratorError && err.attempts.length > 0;
}

/**
 * A cached answer as this call's answer: no upstream attempts (or the failed ones, when stale).
 * Its cost is what the call's own attempts cost: nothing for a hit, the failed calls (charged
 * for their prompts) for a stale answer. Only the answer itself is taken: an entry a Race or a
 * Fallback stored also carries what that call did (fell back), which is not this call's.
 */
function fromCache(cached: CachedAnswer, attempts: readonly AttemptRecord[], ctx: CallContext): Answer {
  const { content, refusal, model, provider, finishReason, toolCalls, usage } = cached.answer;
  return {
    content,
    ...(refusal !== undefined ? { refusal } : {}),
    model,
    provider,
    finishReason,
    ...(toolCalls ? { toolCalls } : {}),
    usage,
    costUsd: totalCost(attempts),
    latencyMs: performance.now() - ctx.startedAt,
    attempts,
    cache: { hit: true, stale: cached.stale, ageMs: Date.now() - cached.storedAt },
  };
}

export interface OfflineDeps {
  readonly cache: AnswerCache | undefined;
  readonly events: EventSink;
  /** CACHE_OFFLINE_FALLBACK: serve a stale answer when every model failed upstream. */
  readonly offlineFallback: boolean;
  /** The provider that serves a model, which knows whether it sends the model a temperature. */
  readonly providerOf: (model: Plan['models'][number]) => Provider | undefined;
}

/**
 * Race and Fallback under the offline policy: a deterministic winner refreshes the cache under
 * its model's key (the key Chat uses), and when every model failed upstream the first model of
 * the plan with a cached answer answers instead, marked stale (a Fallback that would serve its
 * default message asks `staleAnswer` itself, before it does).
 */
export async function answerOffline<A extends Answer>(
  deps: OfflineDeps,
  plan: Plan,
  refuseStale: boolean,
  ctx: CallContext,
  run: () => Promise<A>,
  onStale: (stale: Answer) => A,
): Promise<A> {
  const { cache } = deps;
  if (!cache) return run();
  let answer: A;
  try {
    answer = await run();
  } catch (err) {
    const stale = await offlineAnswer(deps, plan, refuseStale, ctx, err);
    if (!stale) throw err;
    return onStale(stale);
  }
  // A cached answer already served (in place of a default message) is not stored again as fresh.
  const winner = answer.cache ? undefined : plan.models.find((m) => m.id === answer.model);
  if (winner && deterministic(deps, plan, winner)) await cache.set(keyFor(plan, winner), answer);
  return answer;
}

/**
 * Whether the model answers this plan the same way every time, so that the default cache mode
 * may keep its answer: temperature 0, sent to the model. A model its provider sends no
 * temperature (a reasoning model, an Anthropic API version without sampling parameters) samples
 * at its own, so its answers vary whatever the caller set.
 */
function deterministic(deps: OfflineDeps, plan: Plan, model: Plan['models'][number]): boolean {
  if (plan.temperature !== 0) return false;
  return deps.providerOf(model)?.sendsTemperature?.(model.upstreamId, plan.sampling) ?? true;
}

/** A stale answer for a call none of whose models produced anything, when the policy allows it. */
export function offlineAnswer(
  deps: OfflineDeps,
  plan: Plan,
  refuseStale: boolean,
  ctx: CallContext,
  err: unknown,
): Promise<Answer | undefined> {
  return err instanceof OrchestratorError ? staleAnswer(deps, plan, refuseStale, ctx, err.attempts) : Promise.resolve(undefined);
}

/** A stale answer after these failed upstream attempts (none: the gateway refused), when the policy allows it. */
export async function staleAnswer(
  deps: OfflineDeps,
  plan: Plan,
  refuseStale: boolean,
  ctx: CallContext,
  attempts: readonly AttemptRecord[],
): Promise<Answer | undefined> {
  if (!deps.offlineFallback || refuseStale || attempts.length === 0) return undefined;
  return staleFor(deps, plan, attempts, ctx);
}

async function staleFor(deps: OfflineDeps, plan: Plan, attempts: readonly AttemptRecord[], ctx: CallContext): Promise<Answer | undefined> {
  if (ctx.signal.aborted || !deps.cache) return undefined;
  for (const model of plan.models) {
    const cached = await deps.cache.get(keyFor(plan, model), ctx.signal);
    if (!cached) continue;
    deps.events.emit({ type: 'cache_lookup', outcome: 'stale' });
    ctx.log.warn({ model: model.id }, 'every model failed upstream; serving a cached answer');
    return fromCache(extend(cached, { stale: true }), attempts, ctx);
  }
  return undefined;
}

function keyFor(plan: Plan, model: Plan['models'][number]): string {
  return cacheKey({
    model,
    messages: plan.messages,
    temperature: plan.temperature,
    maxTokens: maxTokensFor(plan, model),
    sampling: plan.sampling,
    tooling: plan.tooling,
  });
}
