import type { Catalog } from '../catalog/catalog.js';
import type { ResilienceConfig } from '../config/config.js';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';
import { Admission } from './admission.js';
import type { FallbackAnswer } from './answer.js';
import { AttemptRunner } from './attempt.js';
import { Planner } from './plan.js';
import type { AccessControl, AnswerCache, EngineTelemetry, ProviderLookup } from './ports.js';
import {
  DEFAULT_CACHE_POLICY,
  type BatchCall,
  type ChatAnswer,
  type ChatCall,
  type FallbackCall,
  type RaceCall,
  type RankCall,
  type StreamCall,
} from './requests.js';
import { BreakerRegistry, type BreakerState } from './resilience/breakers.js';
import { RetryBudgets } from './resilience/retry-budget.js';
import { LiveModelStats } from './routing/live-stats.js';
import { DEFAULT_PROFILE_WEIGHTS, type ProfileWeights, type RoutingProfileName } from './routing/profiles.js';
import { Router, type RouteDecision } from './routing/router.js';
import { runBatch, type BatchEvent } from './strategies/batch.js';
import { answerThroughCache } from './strategies/cached.js';
import { runFallbackChain } from './strategies/fallback.js';
import { raceModels } from './strategies/race.js';
import { runSingle } from './strategies/single.js';
import { streamWithStrategy, type EngineStreamEvent } from './strategies/stream.js';

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

/**
 * The engine's face: one method per kind of call, each taking one request object. A call is
 * planned (plan.ts), admitted (admission.ts) and handed to a strategy. Knows nothing of gRPC.
 */
export class Engine {
  private readonly deps: { runner: AttemptRunner; telemetry: EngineTelemetry; onModelTimeToFirstToken: (model: string, ms: number) => void };
  private readonly planner: Planner;
  private readonly admission: Admission;
  private readonly batchBulkhead: BulkheadPolicy;

  constructor(private readonly options: EngineOptions) {
    const { resilience, telemetry } = options;
    const live = new LiveModelStats((id) => options.catalog.find(id));
    const runner = new AttemptRunner({
      providers: options.providers,
      telemetry,
      onAttempt: (record) => live.recordAttempt(record),
      breakers: new BreakerRegistry(resilience.breaker),
      budgets: new RetryBudgets({ maxTokens: resilience.retry.budgetMaxTokens, tokenRatio: resilience.retry.budgetTokenRatio }),
      retry: resilience.retry,
    });
    this.deps = { runner, telemetry, onModelTimeToFirstToken: (model, ms) => live.recordTimeToFirstToken(model, ms) };
    const router = new Router({
      catalog: options.catalog,
      live,
      weights: options.routing?.weights ?? DEFAULT_PROFILE_WEIGHTS,
      breakerState: (model) => runner.breakerState(model),
    });
    this.planner = new Planner({
      catalog: options.catalog,
      router,
      access: options.access,
      defaults: options.defaults,
      attemptTimeoutMs: resilience.attemptTimeoutMs,
      fallbackDepth: options.routing?.fallbackDepth ?? 3,
      onRouted: (profile, model) => telemetry.recordRoutingDecision(profile, model),
    });
    this.admission = new Admission(options.access, (reason) => telemetry.recordAccessRejection(reason));
    this.batchBulkhead = bulkhead(options.batch.globalConcurrency, Number.MAX_SAFE_INTEGER);
  }

  get catalog(): Catalog {
    return this.options.catalog;
  }

  /** The circuit breaker of the model's endpoint in this process. */
  breakerState(modelId: string): BreakerState {
    const model = this.options.catalog.find(modelId);
    return model ? this.deps.runner.breakerState(model) : 'closed';
  }

  /** How the profile ranks the candidates; models the caller's key may not call are excluded. */
  rank(req: RankCall): Promise<RouteDecision> {
    return this.planner.rank(req.route, req.input, req.principal, req.streaming ?? false);
  }

  /** Chat: one model (through the response cache), or a route whose ranking is the fallback chain. */
  async chat(req: ChatCall): Promise<ChatAnswer> {
    const { input, ctx } = req;
    if (req.route) {
      const { decision, chain } = await this.planner.routeChain(req.route, input, ctx);
      const plan = this.planner.plan(chain, input, { capMaxTokens: true });
      const answer = await this.admission.run(ctx, plan, (admitted) =>
        runFallbackChain(this.deps, plan, { linkTimeoutMs: undefined, defaultMessage: undefined }, admitted),
      );
      return { ...answer, decision };
    }
    const plan = this.planner.plan([req.model], input);
    return this.admission.run(ctx, plan, (admitted) =>
      answerThroughCache({ cache: this.options.cache, telemetry: this.deps.telemetry }, plan, req.cache ?? DEFAULT_CACHE_POLICY, ctx, () => runSingle(this.deps.runner, plan, admitted)),
    );
  }

  /**
   * StreamChat. Planning and admission run on the first pull, so every refusal comes before
   * any event; the admission is released when the stream ends, however it ends.
   */
  async *stream(req: StreamCall): AsyncGenerator<EngineStreamEvent> {
    const { target, input, ctx } = req;
    const routed = target.route ? await this.planner.routeChain(target.route, input, ctx, true) : undefined;
    const refs = routed ? routed.chain : target.mode === 'single' ? [req.model] : this.planner.expand(req.model, target.models, ctx);
    const plan = this.planner.plan(refs, input, { capMaxTokens: target.mode === 'fallback' });
    const { resilience } = this.options;
    const admitted = await this.admission.admit(ctx, plan);
    try {
      yield* streamWithStrategy(
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
        admitted.ctx,
      );
    } finally {
      admitted.release();
    }
  }

  async race(req: RaceCall): Promise<ChatAnswer> {
    const plan = this.planner.plan(this.planner.expand(req.model, req.racers, req.ctx), req.input);
    return this.admission.run(req.ctx, plan, (admitted) => raceModels(this.deps, plan, { hedgeDelayMs: req.hedgeDelayMs ?? 0 }, admitted));
  }

  async fallback(req: FallbackCall): Promise<FallbackAnswer> {
    const plan = this.planner.plan(this.planner.expand(req.model, req.chain, req.ctx), req.input, { capMaxTokens: true });
    const defaultMessage = req.disableDefaultMessage ? undefined : (req.defaultMessage ?? this.options.defaults.fallbackMessage);
    return this.admission.run(req.ctx, plan, (admitted) =>
      runFallbackChain(this.deps, plan, { linkTimeoutMs: req.attemptTimeoutMs, defaultMessage }, admitted),
    );
  }

  /** Each item runs its own call (usually `chat`); items share this batch's and the process's slots. */
  batch(req: BatchCall): AsyncGenerator<BatchEvent> {
    return runBatch(req.items, { concurrency: req.concurrency, global: this.batchBulkhead }, req.ctx);
  }
}
