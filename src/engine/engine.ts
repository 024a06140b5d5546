import type { Catalog, CatalogModel } from '../catalog/catalog.js';
import type { ChatInput } from '../domain/chat.js';
import { invalidArgument, modelNotFound, type FieldViolation } from '../domain/errors.js';
import { AttemptRunner } from './attempt.js';
import { maxTokensFor, type Answer, type FallbackAnswer, type Plan } from './answer.js';
import type { CallContext } from './context.js';
import type { AccessControl, AccessTicket, AnswerCache, CachedAnswer, EngineTelemetry, ProviderLookup } from './ports.js';
import { cacheKey } from './cache-key.js';
import { performance } from 'node:perf_hooks';
import type { AttemptRecord } from '../domain/chat.js';
import { estimatePromptTokens } from '../domain/chat.js';
import { runFallbackChain } from './strategies/fallback.js';
import { raceModels } from './strategies/race.js';
import { runSingle } from './strategies/single.js';
import { streamWithStrategy, type EngineStreamEvent, type StreamOptions } from './strategies/stream.js';
import type { ResilienceConfig } from '../config/config.js';
import { BreakerRegistry, type BreakerState } from './resilience/breakers.js';
import { RetryBudgets } from './resilience/retry-budget.js';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';
import { OrchestratorError, Reason } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { LiveModelStats } from './routing/live-stats.js';
import { DEFAULT_PROFILE_WEIGHTS, type ProfileWeights, type RoutingProfileName } from './routing/profiles.js';
import { loadTokenizer } from './routing/complexity.js';
import { Router, type RouteDecision } from './routing/router.js';
import { runBatch, type BatchEvent, type BatchWork } from './strategies/batch.js';

export interface EngineOptions {
  readonly catalog: Catalog;
  readonly providers: ProviderLookup;
  readonly telemetry: EngineTelemetry;
  readonly defaults: {
    readonly model: string;
    readonly maxTokens: number;
    readonly fallbackMessage: string;
  };
  readonly resilience: ResilienceConfig;
  readonly routing?: {
    readonly weights?: Readonly<Record<RoutingProfileName, ProfileWeights>>;
    /** How many ranked models a routed request may try, best first. */
    readonly fallbackDepth?: number;
  };
  readonly batch: {
    /** Batch items running at once in the whole process, over all batches. */
    readonly globalConcurrency: number;
  };
  /** API-key permissions, rate limits and budgets; undefined: everything is allowed. */
  readonly access?: AccessControl | undefined;
  readonly cache?: AnswerCache | undefined;
}

/** How Chat uses the response cache. */
export interface CachePolicy {
  /** auto: only deterministic requests (temperature 0); use: this request too; bypass: do not read, refresh. */
  readonly mode: 'auto' | 'use' | 'bypass';
  /** When every upstream attempt fails, serve an expired cached answer, marked stale. */
  readonly allowStale: boolean;
}

export const DEFAULT_CACHE_POLICY: CachePolicy = { mode: 'auto', allowStale: false };

/** A routed request: the profile and, optionally, the only models to consider. */
export interface RouteRequest {
  readonly profile: RoutingProfileName;
  readonly candidates: readonly ModelRef[];
}

/** A requested model name and the request field it came from, for error details. */
export interface ModelRef {
  readonly name: string;
  readonly field: string;
}

export interface StreamTarget {
  readonly mode: StreamOptions['mode'];
  readonly models: readonly ModelRef[];
  readonly hedgeDelayMs: number | undefined;
  readonly restartOnFailure: boolean;
  readonly firstTokenTimeoutMs: number | undefined;
  readonly interTokenTimeoutMs: number | undefined;
  /** Set: the ranking of this route is the chain (mode must be 'fallback'). */
  readonly route?: RouteRequest | undefined;
}

export interface FallbackTarget {
  readonly chain: readonly ModelRef[];
  readonly attemptTimeoutMs: number | undefined;
  readonly defaultMessage: string | undefined;
  readonly disableDefaultMessage: boolean;
}

/**
 * The orchestration facade: resolves names against the catalog, checks limits that depend on
 * the model, then hands a Plan to a strategy. Knows nothing of gRPC.
 */
export class Engine {
  private readonly deps: { runner: AttemptRunner; telemetry: EngineTelemetry; onModelTimeToFirstToken: (model: string, ms: number) => void };
  private readonly router: Router;
  private readonly batchBulkhead: BulkheadPolicy;

  constructor(private readonly options: EngineOptions) {
    const { resilience } = options;
    const live = new LiveModelStats((id) => options.catalog.find(id));
    const runner = new AttemptRunner({
      providers: options.providers,
      telemetry: options.telemetry,
      onAttempt: (record) => live.recordAttempt(record),
      breakers: new BreakerRegistry(resilience.breaker),
      budgets: new RetryBudgets({ maxTokens: resilience.retry.budgetMaxTokens, tokenRatio: resilience.retry.budgetTokenRatio }),
      retry: resilience.retry,
    });
    this.deps = { runner, telemetry: options.telemetry, onModelTimeToFirstToken: (model, ms) => live.recordTimeToFirstToken(model, ms) };
    this.router = new Router({
      catalog: options.catalog,
      live,
      weights: options.routing?.weights ?? DEFAULT_PROFILE_WEIGHTS,
      breakerState: (model) => runner.breakerState(model),
    });
    this.batchBulkhead = bulkhead(options.batch.globalConcurrency, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Loads what ranking needs (the tokenizer, on first use) without blocking the event loop.
   * Await it before `rank`, `chatRouted` or a routed `stream`; they still work without it.
   */
  prepareRouting(): Promise<void> {
    return loadTokenizer();
  }

  /** How the profile ranks the candidates for these messages (`streaming`: for a StreamChat). */
  rank(route: RouteRequest, input: ChatInput, streaming = false): RouteDecision {
    return this.router.rank({
      profile: route.profile,
      messages: input.messages,
      maxTokens: input.maxTokens ?? this.options.defaults.maxTokens,
      candidates: this.resolve(route.candidates),
      streaming,
    });
  }

  /** Chat on a routed request: the ranking is the fallback chain, best first. */
  async chatRouted(route: RouteRequest, input: ChatInput, ctx: CallContext): Promise<Answer & { decision: RouteDecision }> {
    const { decision, chain: models } = this.routeChain(route, input, ctx);
    const plan = this.plan(models, input, { capMaxTokens: true });
    const answer = await this.admitted(ctx, plan, (admitted) =>
      runFallbackChain(this.deps, plan, { linkTimeoutMs: undefined, defaultMessage: undefined }, admitted),
    );
    return { ...answer, decision };
  }

  batch(items: readonly BatchWork[], concurrency: number, ctx: CallContext): AsyncGenerator<BatchEvent> {
    return runBatch(items, { concurrency, global: this.batchBulkhead }, ctx);
  }

  private routeChain(route: RouteRequest, input: ChatInput, ctx: CallContext, streaming = false): { decision: RouteDecision; chain: ModelRef[] } {
    const decision = this.forPrincipal(this.rank(route, input, streaming), ctx.principal);
    const eligible = decision.ranking.filter((r) => r.excluded === undefined);
    const first = eligible[0];
    if (!first) throw noEligibleModel(decision, ctx.principal);
    this.deps.telemetry.recordRoutingDecision(route.profile, first.model.id);
    const depth = this.options.routing?.fallbackDepth ?? 3;
    return { decision, chain: eligible.slice(0, depth).map((r) => ({ name: r.model.id, field: 'route' })) };
  }

  /**
   * A key only ever routes to models it may call: the others stay in the ranking (so the
   * answer explains the choice) but are excluded, and the eligible ones come first.
   */
  forPrincipal(decision: RouteDecision, principal: Principal | undefined): RouteDecision {
    const access = this.options.access;
    if (!access || !principal) return decision;
    const ranking = decision.ranking.map((r) =>
      r.excluded === undefined && !access.allows(principal, r.model.id) ? { ...r, excluded: NOT_ALLOWED_FOR_KEY } : r,
    );
    ranking.sort((a, b) => (a.excluded === undefined ? 0 : 1) - (b.excluded === undefined ? 0 : 1));
    return { ...decision, ranking };
  }

  /** The circuit breaker of the model's endpoint in this process. */
  breakerState(modelId: string): BreakerState {
    const model = this.options.catalog.find(modelId);
    return model ? this.deps.runner.breakerState(model) : 'closed';
  }

  get catalog(): Catalog {
    return this.options.catalog;
  }

  async chat(model: ModelRef, input: ChatInput, ctx: CallContext, cachePolicy: CachePolicy = DEFAULT_CACHE_POLICY): Promise<Answer> {
    const plan = this.plan([model], input);
    return this.admitted(ctx, plan, async (admittedCtx) => {
      const cache = this.options.cache;
      const only = plan.models[0];
      const cacheable = cache && only && (cachePolicy.mode !== 'auto' || plan.temperature === 0);
      if (!cacheable) return runSingle(this.deps.runner, plan, admittedCtx);
      const key = cacheKey({ model: only.id, messages: plan.messages, temperature: plan.temperature, maxTokens: maxTokensFor(plan, only) });
      if (cachePolicy.mode !== 'bypass') {
        const cached = await cache.get(key);
        if (cached && !cached.stale) {
          this.deps.telemetry.recordCacheLookup('hit');
          return fromCache(cached, [], ctx);
        }
        this.deps.telemetry.recordCacheLookup('miss');
      }
      try {
        const answer = await runSingle(this.deps.runner, plan, admittedCtx);
        await cache.set(key, answer);
        return { ...answer, cache: { hit: false, stale: false, ageMs: 0 } };
      } catch (err) {
        const stale = cachePolicy.allowStale && !ctx.signal.aborted ? await cache.get(key) : undefined;
        if (!stale) throw err;
        this.deps.telemetry.recordCacheLookup('stale');
        ctx.log.warn({ model: only.id }, 'every upstream attempt failed; serving a stale cached answer');
        return fromCache(stale, err instanceof OrchestratorError ? err.attempts : [], ctx);
      }
    });
  }

  /**
   * Access control around a call: permissions, budgets and limits before it; actual usage
   * charged as each upstream call finishes; the token estimate settled when it ends.
   */
  private async admitted<T>(ctx: CallContext, plan: Plan, run: (ctx: CallContext) => Promise<T>): Promise<T> {
    const ticket = await this.admit(ctx, plan);
    if (!ticket) return run(ctx);
    try {
      return await run({ ...ctx, onUsage: chain(ctx.onUsage, (r) => ticket.record(r)) });
    } finally {
      ticket.close();
    }
  }

  private async admit(ctx: CallContext, plan: Plan): Promise<AccessTicket | undefined> {
    const access = this.options.access;
    if (!access) return undefined;
    const promptTokens = estimatePromptTokens(plan.messages);
    const outputTokens = Math.max(...plan.models.map((m) => maxTokensFor(plan, m)), 0);
    try {
      return await access.admit({ principal: ctx.principal, models: plan.models.map((m) => m.id), estimatedTokens: promptTokens + outputTokens });
    } catch (err) {
      if (err instanceof OrchestratorError) this.deps.telemetry.recordAccessRejection(err.reason);
      throw err;
    }
  }

  /** Streams are admitted like unary calls; the ticket closes when the stream ends, however it ends. */
  private async *admittedStream(ctx: CallContext, plan: Plan, run: (ctx: CallContext) => AsyncGenerator<EngineStreamEvent>): AsyncGenerator<EngineStreamEvent> {
    const ticket = await this.admit(ctx, plan);
    try {
      yield* run(ticket ? { ...ctx, onUsage: chain(ctx.onUsage, (r) => ticket.record(r)) } : ctx);
    } finally {
      ticket?.close();
    }
  }

  /** Validates and plans eagerly (errors before any event), then streams. */
  stream(primary: ModelRef, target: StreamTarget, input: ChatInput, ctx: CallContext): AsyncGenerator<EngineStreamEvent> {
    const routed = target.route ? this.routeChain(target.route, input, ctx, true) : undefined;
    const refs = routed ? routed.chain : target.mode === 'single' ? [primary] : this.expand(primary, target.models, ctx);
    const plan = this.plan(refs, input, { capMaxTokens: target.mode === 'fallback' });
    const { resilience } = this.options;
    return this.admittedStream(ctx, plan, (admitted) => streamWithStrategy(
      this.deps,
      plan,
      {
        mode: routed ? 'fallback' : target.mode,
        hedgeDelayMs: target.hedgeDelayMs ?? 0,
        restartOnFailure: target.restartOnFailure,
        firstTokenTimeoutMs: target.firstTokenTimeoutMs ?? resilience.firstTokenTimeoutMs,
        interTokenTimeoutMs: target.interTokenTimeoutMs ?? resilience.interTokenTimeoutMs,
        decision: routed?.decision,
      },
      admitted,
    ));
  }

  /** `racers` empty: the model (or the default) and its configured fallbacks race. */
  async race(
    primary: ModelRef,
    racers: readonly ModelRef[],
    options: { hedgeDelayMs: number | undefined },
    input: ChatInput,
    ctx: CallContext,
  ): Promise<Answer> {
    const plan = this.plan(this.expand(primary, racers, ctx), input);
    return this.admitted(ctx, plan, (admitted) => raceModels(this.deps, plan, { hedgeDelayMs: options.hedgeDelayMs ?? 0 }, admitted));
  }

  async fallback(primary: ModelRef, target: FallbackTarget, input: ChatInput, ctx: CallContext): Promise<FallbackAnswer> {
    const plan = this.plan(this.expand(primary, target.chain, ctx), input, { capMaxTokens: true });
    const defaultMessage = target.disableDefaultMessage
      ? undefined
      : (target.defaultMessage ?? this.options.defaults.fallbackMessage);
    return this.admitted(ctx, plan, (admitted) =>
      runFallbackChain(this.deps, plan, { linkTimeoutMs: target.attemptTimeoutMs, defaultMessage }, admitted),
    );
  }

  /** Explicit lists are kept as given; a default chain drops models the caller's key may not call. */
  private expand(primary: ModelRef, list: readonly ModelRef[], ctx: CallContext): ModelRef[] {
    if (list.length > 0) return [...list];
    const first = this.resolve([this.withDefault(primary)])[0];
    if (!first) return [];
    const access = this.options.access;
    return this.options.catalog
      .chainFrom(first)
      .filter((m, i) => i === 0 || !access || access.allows(ctx.principal, m.id))
      .map((m) => ({ name: m.id, field: primary.field }));
  }

  private withDefault(ref: ModelRef): ModelRef {
    return ref.name.trim() === '' ? { name: this.options.defaults.model, field: ref.field } : ref;
  }

  private resolve(refs: readonly ModelRef[]): CatalogModel[] {
    const models: CatalogModel[] = [];
    for (const ref of refs) {
      const resolved = this.withDefault(ref);
      const model = this.options.catalog.find(resolved.name);
      if (!model) throw modelNotFound(resolved.name, resolved.field);
      models.push(model);
    }
    return models;
  }

  /**
   * max_tokens: an explicit value must fit every model (INVALID_ARGUMENT otherwise), except in a
   * fallback chain where it is capped per model; unset means the default, capped per model.
   */
  private plan(refs: readonly ModelRef[], input: ChatInput, options: { capMaxTokens?: boolean } = {}): Plan {
    const models = this.resolve(refs);
    const violations: FieldViolation[] = [];
    const maxTokens = new Map<string, number>();
    for (const [index, model] of models.entries()) {
      const ref = refs[index];
      if (models.indexOf(model) !== index && ref) {
        violations.push({ field: ref.field, description: `${model.id} is listed more than once` });
      }
      const wanted = input.maxTokens ?? this.options.defaults.maxTokens;
      if (input.maxTokens !== undefined && wanted > model.maxOutputTokens && !options.capMaxTokens) {
        violations.push({
          field: 'max_tokens',
          description: `must be at most ${model.maxOutputTokens} for ${model.id} (got ${wanted})`,
        });
      }
      maxTokens.set(model.id, Math.min(wanted, model.maxOutputTokens));
    }
    if (violations.length > 0) throw invalidArgument(violations);
    const attemptTimeoutMs = this.options.resilience.attemptTimeoutMs || undefined;
    return { models, messages: input.messages, temperature: input.temperature, maxTokens, attemptTimeoutMs };
  }
}

export type { Answer, FallbackAnswer, EngineStreamEvent };

const NOT_ALLOWED_FOR_KEY = 'not allowed for this API key';

function noEligibleModel(decision: RouteDecision, principal: Principal | undefined): OrchestratorError {
  const reasons = decision.ranking.map((r) => `${r.model.id}: ${r.excluded ?? 'eligible'}`).join('; ');
  const denied = decision.ranking.filter((r) => r.excluded === NOT_ALLOWED_FOR_KEY).map((r) => r.model.id);
  // Nothing the key may call could take it: a permission problem, not a passing outage.
  if (principal && denied.length > 0 && decision.ranking.every((r) => r.excluded === NOT_ALLOWED_FOR_KEY || r.excluded === 'no provider configured')) {
    return new OrchestratorError({
      kind: 'permission_denied',
      reason: Reason.MODEL_NOT_ALLOWED,
      message: `API key "${principal.name}" may not call any candidate of this route (${denied.join(', ')})`,
      metadata: { key: principal.name, models: denied.join(',') },
    });
  }
  const tooLong = decision.ranking.length > 0 && decision.ranking.every((r) => r.excluded?.startsWith('context window'));
  if (tooLong) {
    return new OrchestratorError({
      kind: 'invalid_argument',
      reason: Reason.PROMPT_TOO_LONG,
      message: `no candidate's context window holds ${decision.promptTokens} prompt tokens plus max_tokens`,
      fieldViolations: [{ field: 'messages', description: `${decision.promptTokens} prompt tokens do not fit any candidate: ${reasons}` }],
    });
  }
  return new OrchestratorError({
    kind: 'unavailable',
    reason: Reason.NO_ELIGIBLE_MODEL,
    message: `no model can take this request now: ${reasons || 'no candidates'}`,
    retryable: true,
  });
}

function chain(first: ((r: AttemptRecord) => void) | undefined, second: (r: AttemptRecord) => void): (r: AttemptRecord) => void {
  return first ? (r) => (first(r), second(r)) : second;
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
