import type { Catalog, CatalogModel } from '../catalog/catalog.js';
import type { ChatInput } from '../domain/chat.js';
import { invalidArgument, modelNotFound, type FieldViolation } from '../domain/errors.js';
import { AttemptRunner } from './attempt.js';
import type { Answer, FallbackAnswer, Plan } from './answer.js';
import type { CallContext } from './context.js';
import type { EngineTelemetry, ProviderLookup } from './ports.js';
import { runFallbackChain } from './strategies/fallback.js';
import { raceModels } from './strategies/race.js';
import { runSingle } from './strategies/single.js';
import { streamWithStrategy, type EngineStreamEvent, type StreamOptions } from './strategies/stream.js';
import type { ResilienceConfig } from '../config/config.js';
import { BreakerRegistry, type BreakerState } from './resilience/breakers.js';
import { RetryBudgets } from './resilience/retry-budget.js';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';
import { OrchestratorError, Reason } from '../domain/errors.js';
import { LiveModelStats } from './routing/live-stats.js';
import { DEFAULT_PROFILE_WEIGHTS, type ProfileWeights, type RoutingProfileName } from './routing/profiles.js';
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
}

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
  private readonly deps: { runner: AttemptRunner; telemetry: EngineTelemetry };
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
    this.deps = { runner, telemetry: options.telemetry };
    this.router = new Router({
      catalog: options.catalog,
      live,
      weights: options.routing?.weights ?? DEFAULT_PROFILE_WEIGHTS,
      breakerState: (model) => runner.breakerState(model),
    });
    this.batchBulkhead = bulkhead(options.batch.globalConcurrency, Number.MAX_SAFE_INTEGER);
  }

  /** How the profile ranks the candidates for these messages. */
  rank(route: RouteRequest, input: ChatInput): RouteDecision {
    return this.router.rank({
      profile: route.profile,
      messages: input.messages,
      maxTokens: input.maxTokens ?? this.options.defaults.maxTokens,
      candidates: this.resolve(route.candidates),
    });
  }

  /** Chat on a routed request: the ranking is the fallback chain, best first. */
  async chatRouted(route: RouteRequest, input: ChatInput, ctx: CallContext): Promise<Answer & { decision: RouteDecision }> {
    const { decision, chain } = this.routeChain(route, input);
    const plan = this.plan(chain, input, { capMaxTokens: true });
    const answer = await runFallbackChain(this.deps, plan, { linkTimeoutMs: undefined, defaultMessage: undefined }, ctx);
    return { ...answer, decision };
  }

  batch(items: readonly BatchWork[], concurrency: number, ctx: CallContext): AsyncGenerator<BatchEvent> {
    return runBatch(items, { concurrency, global: this.batchBulkhead }, ctx);
  }

  private routeChain(route: RouteRequest, input: ChatInput): { decision: RouteDecision; chain: ModelRef[] } {
    const decision = this.rank(route, input);
    const eligible = decision.ranking.filter((r) => r.excluded === undefined);
    const first = eligible[0];
    if (!first) throw noEligibleModel(decision);
    this.deps.telemetry.recordRoutingDecision(route.profile, first.model.id);
    const depth = this.options.routing?.fallbackDepth ?? 3;
    return { decision, chain: eligible.slice(0, depth).map((r) => ({ name: r.model.id, field: 'route' })) };
  }

  /** The circuit breaker of the model's endpoint in this process. */
  breakerState(modelId: string): BreakerState {
    const model = this.options.catalog.find(modelId);
    return model ? this.deps.runner.breakerState(model) : 'closed';
  }

  get catalog(): Catalog {
    return this.options.catalog;
  }

  async chat(model: ModelRef, input: ChatInput, ctx: CallContext): Promise<Answer> {
    return runSingle(this.deps.runner, this.plan([model], input), ctx);
  }

  /** Validates and plans eagerly (errors before any event), then streams. */
  stream(primary: ModelRef, target: StreamTarget, input: ChatInput, ctx: CallContext): AsyncGenerator<EngineStreamEvent> {
    const routed = target.route ? this.routeChain(target.route, input) : undefined;
    const refs = routed ? routed.chain : target.mode === 'single' ? [primary] : this.expand(primary, target.models);
    const plan = this.plan(refs, input, { capMaxTokens: target.mode === 'fallback' });
    const { resilience } = this.options;
    return streamWithStrategy(
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
      ctx,
    );
  }

  /** `racers` empty: the model (or the default) and its configured fallbacks race. */
  async race(
    primary: ModelRef,
    racers: readonly ModelRef[],
    options: { hedgeDelayMs: number | undefined },
    input: ChatInput,
    ctx: CallContext,
  ): Promise<Answer> {
    return raceModels(this.deps, this.plan(this.expand(primary, racers), input), { hedgeDelayMs: options.hedgeDelayMs ?? 0 }, ctx);
  }

  async fallback(primary: ModelRef, target: FallbackTarget, input: ChatInput, ctx: CallContext): Promise<FallbackAnswer> {
    const plan = this.plan(this.expand(primary, target.chain), input, { capMaxTokens: true });
    const defaultMessage = target.disableDefaultMessage
      ? undefined
      : (target.defaultMessage ?? this.options.defaults.fallbackMessage);
    return runFallbackChain(this.deps, plan, { linkTimeoutMs: target.attemptTimeoutMs, defaultMessage }, ctx);
  }

  private expand(primary: ModelRef, list: readonly ModelRef[]): ModelRef[] {
    if (list.length > 0) return [...list];
    const first = this.resolve([this.withDefault(primary)])[0];
    if (!first) return [];
    return this.options.catalog.chainFrom(first).map((m) => ({ name: m.id, field: primary.field }));
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

function noEligibleModel(decision: RouteDecision): OrchestratorError {
  const reasons = decision.ranking.map((r) => `${r.model.id}: ${r.excluded ?? 'eligible'}`).join('; ');
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
