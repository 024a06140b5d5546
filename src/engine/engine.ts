import type { Principal } from '../domain/principal.js';
import type { Catalog, CatalogModel } from '../catalog/catalog.js';
import type { ResilienceConfig } from '../config/config.js';
import { Admission, type Admitted } from './admission.js';
import type { Answer, FallbackAnswer, Plan } from './answer.js';
import { AttemptRunner } from './attempt.js';
import { forgetRemovedModels } from './model-removal.js';
import { Planner } from './plan.js';
import { promptOf, requestedName, streamTeller, told } from './call-detail.js';
import { EventBus, type EventSink } from './events.js';
import type { AccessControl, AnswerCache, ProviderLookup } from './ports.js';
import {
  DEFAULT_CACHE_POLICY,
  type BatchCall,
  type ChatAnswer,
  type ChatCall,
  type FallbackCall,
  type RaceCall,
  type RankCall,
  type RouteRequest,
  type StreamCall,
  type StreamMode,
} from './requests.js';
import { BreakerRegistry, type BreakerState } from './resilience/breakers.js';
import { RetryBudgets } from './resilience/retry-budget.js';
import { BatchSlots } from './resilience/batch-slots.js';
import { InFlightGates, type InFlightReading, type InFlightSettings } from './resilience/in-flight.js';
import { LiveModelStats } from './routing/live-stats.js';
import { DEFAULT_PROFILE_WEIGHTS, type ProfileWeights, type RoutingProfileName } from './routing/profiles.js';
import { routeCandidates, Router, type RouteDecision } from './routing/router.js';
import { runBatch, type BatchEvent } from './strategies/batch.js';
import { answerOffline, answerThroughCache, offlineAnswer, staleAnswer, type OfflineDeps } from './strategies/cached.js';
import { fallbackStream, runFallbackChain } from './strategies/fallback.js';
import { raceModels, raceStream } from './strategies/race.js';
import { runSingle } from './strategies/single.js';
import { runEmbed, type EmbedAnswer, type EmbedCall } from './strategies/embed.js';
import { EmbeddingCatalog } from '../catalog/embedding-models.js';
import { relayStream, type EngineStreamEvent, type PreparedStream } from './strategies/stream.js';
import { extend } from '../domain/extend.js';
import { byCodeUnit } from '../domain/order.js';

export interface EngineOptions {
  readonly catalog: Catalog;
  readonly providers: ProviderLookup;
  /** Where the engine reports what happened; subscribe listeners (stats, metrics) to it. Default: a bus of its own. */
  readonly events?: EventBus | undefined;
  readonly defaults: {
    readonly model: string;
    readonly maxTokens: number;
    readonly fallbackMessage: string;
  };
  readonly resilience: ResilienceConfig;
  /** Providers whose cap on requests in flight differs from resilience.inFlight (the config file's). */
  readonly inFlightPerProvider?: InFlightSettings['perProvider'];
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
  /** Serve a stale cached answer when every upstream attempt of a call failed, unless the request refuses it. */
  readonly cacheOfflineFallback?: boolean | undefined;
  /** Embedding models (a catalog of their own: chat never picks them); default: none served. */
  readonly embeddings?: EmbeddingCatalog | undefined;
}

/**
 * The engine's face: one method per kind of call, each taking one request object. A call is
 * planned (plan.ts), admitted (admission.ts) and handed to a strategy. Knows nothing of gRPC.
 */
export class Engine {
  /** Every fact the engine reports (attempts, race wins, fallbacks, ...): subscribe to listen. */
  readonly events: EventBus;
  private readonly deps: { runner: AttemptRunner; events: EventSink; onModelTimeToFirstToken: (model: string, ms: number) => void };
  private readonly planner: Planner;
  private readonly admission: Admission;
  private readonly batchSlots: BatchSlots;
  private readonly gates: InFlightGates;
  private readonly offlineDeps: OfflineDeps;

  constructor(private readonly options: EngineOptions) {
    const { resilience } = options;
    const events = options.events ?? new EventBus();
    this.events = events;
    this.gates = new InFlightGates({ defaults: resilience.inFlight, perProvider: options.inFlightPerProvider }, events);
    const live = new LiveModelStats((id) => options.catalog.find(id));
    const breakers = new BreakerRegistry(resilience.breaker);
    const budgets = new RetryBudgets({ maxTokens: resilience.retry.budgetMaxTokens, tokenRatio: resilience.retry.budgetTokenRatio });
    events.subscribe((event) => {
      if (event.type === 'attempt') live.recordAttempt(event.record);
    });
    forgetRemovedModels({ catalog: options.catalog, embeddings: options.embeddings, events, breakers, budgets, live });
    const runner = new AttemptRunner({
      providers: options.providers,
      events,
      breakers,
      budgets,
      retry: resilience.retry,
      gates: this.gates,
    });
    this.deps = { runner, events, onModelTimeToFirstToken: (model, ms) => live.recordTimeToFirstToken(model, ms) };
    this.offlineDeps = {
      cache: options.cache,
      events,
      offlineFallback: options.cacheOfflineFallback ?? false,
      providerOf: (model) => runner.providerOf(model),
    };
    const router = new Router({
      catalog: options.catalog,
      live,
      weights: options.routing?.weights ?? DEFAULT_PROFILE_WEIGHTS,
      breakerState: (model) => runner.breakerState(model),
    });
    this.planner = new Planner({
      catalog: options.catalog,
      embeddings: options.embeddings,
      router,
      access: options.access,
      defaults: options.defaults,
      attemptTimeoutMs: resilience.attemptTimeoutMs,
      fallbackDepth: options.routing?.fallbackDepth ?? 3,
      coolDownLeftMs: (model) => runner.coolDownLeftMs(model),
      onRouted: (profile, model) => events.emit({ type: 'routed', profile, model }),
    });
    this.admission = new Admission(options.access, (reason) => events.emit({ type: 'access_rejected', reason }));
    this.batchSlots = new BatchSlots(options.batch.globalConcurrency);
  }

  get catalog(): Catalog {
    return this.options.catalog;
  }

  /** Each provider's requests in flight and waiting under its cap (the providers called so far). */
  inFlight(): InFlightReading[] {
    return this.gates.readings();
  }

  /**
   * Every model a caller can name, chat and embedding, sorted by id: what ListModels and
   * GET /v1/models show (OpenAI lists its embedding models there too).
   */
  listedModels(principal?: Principal): readonly CatalogModel[] {
    const embeddings = this.options.embeddings?.models ?? [];
    const models =
      embeddings.length === 0
        ? this.options.catalog.models
        : [...this.options.catalog.models, ...embeddings].sort((a, b) => byCodeUnit(a.id, b.id));
    const access = this.options.access;
    // A key lists what it may call, as OpenAI's /v1/models does: nothing a call would refuse with 403.
    return access && principal ? models.filter((m) => access.allows(principal, m.id)) : models;
  }

  /** A chat or embedding model by id or alias; chat first, as a chat call resolves names. Undefined for one `principal` may not call. */
  findListedModel(name: string, principal?: Principal): CatalogModel | undefined {
    const model = this.options.catalog.find(name) ?? this.options.embeddings?.find(name);
    const access = this.options.access;
    return model && access && principal && !access.allows(principal, model.id) ? undefined : model;
  }

  /** The circuit breaker of the model's endpoint in this process. */
  breakerState(modelId: string): BreakerState {
    const model = this.findListedModel(modelId);
    return model ? this.deps.runner.breakerState(model) : 'closed';
  }

  /**
   * How the profile ranks the candidates; models the caller's key may not call are excluded.
   * Counted like any call: admitted (limits, budgets) before the text is classified.
   */
  async rank(req: RankCall): Promise<RouteDecision> {
    const admitted = await this.admission.admitUnplanned(req.ctx, req.input, this.options.defaults.maxTokens, () =>
      this.routeModels(req.route),
    );
    try {
      return await this.planner.rank(req.route, req.input, req.ctx.principal, req.streaming ?? false);
    } finally {
      admitted.release();
    }
  }

  /**
   * The models a route may rank (the budget's hold is priced on them): its candidates, or every
   * model a provider serves, as the ranking takes them; a model nobody serves is never the answer.
   */
  private routeModels(route: RouteRequest): readonly CatalogModel[] {
    const { catalog } = this.options;
    if (route.candidates.length > 0) return route.candidates.flatMap((c) => catalog.find(c.name) ?? []);
    return routeCandidates(catalog, []);
  }

  /** Chat: one model (through the response cache), or a route whose ranking is the fallback chain. */
  async chat(req: ChatCall): Promise<ChatAnswer> {
    const { input, ctx } = req;
    ctx.upstream?.requested?.({
      model: req.route ? `route:${req.route.profile}` : req.model.name || undefined,
      prompt: promptOf(input.messages),
      raced: false,
    });
    return told(ctx, await this.answerChat(req));
  }

  /** Not async (its one caller awaits it): a promise handed on through an async function costs three more microtask turns. */
  private answerChat(req: ChatCall): Promise<ChatAnswer> {
    const { input, ctx } = req;
    if (req.route) {
      const route = req.route;
      // Admission first: a caller over its limits costs no classification.
      return this.admission.runUnplanned(
        ctx,
        input,
        this.options.defaults.maxTokens,
        () => this.routeModels(route),
        async (admitted) => {
          const { decision, chain } = await this.planner.routeChain(route, input, admitted);
          ctx.upstream?.routed?.(decision);
          const plan = this.planner.plan(chain, input, { capMaxTokens: true });
          return extend(await runFallbackChain(this.deps, plan, { linkTimeoutMs: undefined, defaultMessage: undefined }, admitted), {
            decision,
          });
        },
      );
    }
    const plan = this.planner.plan([req.model], input);
    return this.admission.run(ctx, plan, (admitted) =>
      answerThroughCache(this.offline(), plan, req.cache ?? DEFAULT_CACHE_POLICY, ctx, () => runSingle(this.deps.runner, plan, admitted)),
    );
  }

  /**
   * StreamChat. Planning and admission run on the first pull, so every refusal comes before
   * any event; the relay releases the admission when the stream ends, however it ends.
   */
  stream(req: StreamCall): AsyncGenerator<readonly EngineStreamEvent[]> {
    const { target } = req;
    req.ctx.upstream?.requested?.({
      model: target.route ? `route:${target.route.profile}` : requestedName(req.model.name, target.models),
      prompt: promptOf(req.input.messages),
      raced: target.mode === 'race',
    });
    return relayStream(this.deps, () => this.prepareStream(req), streamTeller(req.ctx));
  }

  private async prepareStream(req: StreamCall): Promise<PreparedStream> {
    const { target, input, ctx } = req;
    if (target.route) {
      const route = target.route;
      // Admission first: a caller over its limits costs no classification.
      const admitted = await this.admission.admitUnplanned(ctx, input, this.options.defaults.maxTokens, () => this.routeModels(route));
      try {
        const routed = await this.planner.routeChain(route, input, admitted.ctx, true);
        ctx.upstream?.routed?.(routed.decision);
        const plan = this.planner.plan(routed.chain, input, { capMaxTokens: true });
        return this.preparedStream(req, 'fallback', plan, admitted, routed.decision);
      } catch (err) {
        admitted.release();
        throw err;
      }
    }
    const refs = target.mode === 'single' ? [req.model] : this.planner.expand(req.model, target.models, ctx);
    const plan = this.planner.plan(refs, input, { capMaxTokens: target.mode === 'fallback' });
    return this.preparedStream(req, target.mode, plan, await this.admission.admit(ctx, plan), undefined);
  }

  private preparedStream(
    req: StreamCall,
    mode: StreamMode,
    plan: Plan,
    admitted: Admitted,
    decision: RouteDecision | undefined,
  ): PreparedStream {
    const { target } = req;
    const { resilience } = this.options;
    const timeouts = {
      firstTokenTimeoutMs: target.firstTokenTimeoutMs ?? resilience.firstTokenTimeoutMs,
      interTokenTimeoutMs: target.interTokenTimeoutMs ?? resilience.interTokenTimeoutMs,
    };
    return {
      ctx: admitted.ctx,
      policy: (onRecord) =>
        mode === 'race'
          ? raceStream(this.deps, plan, { hedgeDelayMs: target.hedgeDelayMs ?? 0, ...timeouts }, admitted.ctx, onRecord)
          : fallbackStream(this.deps, plan, timeouts, admitted.ctx, onRecord),
      restartOnFailure: target.restartOnFailure,
      decision,
      release: admitted.release,
      // A routed stream is not answered from the cache, as a routed Chat is not: no entry stands for a route.
      offline: decision ? undefined : (err) => offlineAnswer(this.offline(), plan, req.refuseStale ?? false, admitted.ctx, err),
      staleIsFallback: mode === 'fallback',
    };
  }

  async race(req: RaceCall): Promise<ChatAnswer> {
    req.ctx.upstream?.requested?.({ model: requestedName(req.model.name, req.racers), prompt: promptOf(req.input.messages), raced: true });
    return told(req.ctx, await this.answerRace(req));
  }

  private async answerRace(req: RaceCall): Promise<ChatAnswer> {
    const plan = this.planner.plan(this.planner.expand(req.model, req.racers, req.ctx), req.input);
    return this.admission.run(req.ctx, plan, (admitted) =>
      answerOffline(
        this.offline(),
        plan,
        req.refuseStale ?? false,
        admitted,
        () => raceModels(this.deps, plan, { hedgeDelayMs: req.hedgeDelayMs ?? 0 }, admitted),
        (stale) => stale,
      ),
    );
  }

  async fallback(req: FallbackCall): Promise<FallbackAnswer> {
    req.ctx.upstream?.requested?.({ model: requestedName(req.model.name, req.chain), prompt: promptOf(req.input.messages), raced: false });
    return told(req.ctx, await this.answerFallback(req));
  }

  private async answerFallback(req: FallbackCall): Promise<FallbackAnswer> {
    const plan = this.planner.plan(this.planner.expand(req.model, req.chain, req.ctx), req.input, { capMaxTokens: true });
    const defaultMessage = req.disableDefaultMessage ? undefined : (req.defaultMessage ?? this.options.defaults.fallbackMessage);
    const offline = this.offline();
    const refuseStale = req.refuseStale ?? false;
    return this.admission.run(req.ctx, plan, (admitted) =>
      answerOffline(
        offline,
        plan,
        refuseStale,
        admitted,
        () =>
          runFallbackChain(
            this.deps,
            plan,
            {
              linkTimeoutMs: req.attemptTimeoutMs,
              defaultMessage,
              // An old answer is worth more than the default message; it costs what the failed attempts did.
              insteadOfDefault: (attempts) => staleAnswer(offline, plan, refuseStale, admitted, attempts),
            },
            admitted,
          ),
        (stale) => extend(stale, { fallbackTriggered: true, isDefaultMessage: false }),
      ),
    );
  }

  private offline(): OfflineDeps {
    return this.offlineDeps;
  }

  /** Embed: vectors from an embedding model, with chat's admission, retries, breakers and records. */
  embed(req: EmbedCall): Promise<EmbedAnswer> {
    const embeddings = this.options.embeddings ?? new EmbeddingCatalog({ providers: new Map() });
    const deps = { runner: this.deps.runner, admission: this.admission, embeddings, chatCatalog: this.options.catalog };
    const cache = { cache: this.options.cache, events: this.events };
    return runEmbed(extend(deps, { cache, attemptTimeoutMs: this.options.resilience.attemptTimeoutMs }), req);
  }

  /** Each item runs its own call (usually `chat`); items share this batch's and the process's slots. */
  batch<A extends Answer>(req: BatchCall<A>): AsyncGenerator<BatchEvent<A>> {
    return runBatch(req.items, { concurrency: req.concurrency, global: this.batchSlots }, req.ctx);
  }
}
