import { costOf, type Catalog, type CatalogModel } from '../../catalog/catalog.js';
import { estimateBeyondTextTokens, estimateToolingTokens, type ChatMessage } from '../../domain/chat.js';
import type { Tooling } from '../../domain/tools.js';
import type { BreakerState } from '../resilience/breakers.js';
import { classifyComplexity, type Complexity } from './complexity.js';
import type { LiveModelStats } from './live-stats.js';
import { effectiveWeights, type ProfileWeights, type RoutingProfileName } from './profiles.js';
import { extend } from '../../domain/extend.js';

export interface ScoredModel {
  readonly model: CatalogModel;
  readonly score: number;
  readonly quality: number;
  readonly latency: number;
  readonly ttft: number;
  readonly cost: number;
  readonly reliability: number;
  readonly context: number;
  readonly estimatedCostUsd: number;
  readonly expectedLatencyMs: number;
  readonly expectedTtftMs: number;
  /** Context window over the tokens this request needs (prompt plus max_tokens). */
  readonly contextHeadroom: number;
  /** Why it cannot take the request; undefined when eligible. */
  readonly excluded: string | undefined;
}

export interface RouteDecision {
  readonly profile: RoutingProfileName;
  readonly complexity: Complexity;
  /** The messages' tokens (their text, tool calls and images) plus the tool definitions' and schema's, as the upstream reads them. */
  readonly promptTokens: number;
  /** Eligible models best first, then the excluded ones. */
  readonly ranking: readonly ScoredModel[];
}

export interface RankRequest {
  readonly profile: RoutingProfileName;
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  /** Tool definitions and the answer's schema: the upstream reads them as prompt, so they take room in the window. */
  readonly tooling?: Tooling | undefined;
  /** Resolved candidates; empty means every model with a provider. */
  readonly candidates: readonly CatalogModel[];
  /** A streamed request: time to first token counts for more (see `effectiveWeights`). */
  readonly streaming?: boolean;
  /**
   * Why the caller cannot use a model (what the request needs, what its key allows); undefined
   * when it can. Checked before scaling, so a model the caller could never get does not move
   * the others' scores.
   */
  readonly exclude?: (model: CatalogModel) => string | undefined;
}

/** How a model whose window cannot hold the request is excluded: the start of its reason. */
export const TOO_SMALL = 'context window ';

/** How a model no configured provider serves is excluded. */
export const NO_PROVIDER = 'no provider configured';

/** How a model kept out by its open circuit breaker is excluded. */
export const BREAKER_OPEN = 'circuit breaker open';

/** Headroom beyond this many times the needed tokens earns nothing more. */
const MAX_USEFUL_HEADROOM = 32;

/**
 * Added to every profile's score by tier: simple prompts move to cheaper tiers, complex ones to
 * stronger tiers, whatever the profile.
 */
const TIER_FIT: Readonly<Record<Complexity, Readonly<Record<CatalogModel['tier'], number>>>> = {
  simple: { small: 0.1, medium: 0.05, large: 0 },
  moderate: { small: 0, medium: 0.03, large: 0.03 },
  complex: { small: -0.1, medium: 0.03, large: 0.1 },
};

/**
 * Scores candidates on quality (catalog; the prompt's complexity adds a tier fit), latency and time
 * to first token (live EWMAs, catalog before traffic), cost (catalog prices for this request's
 * tokens), reliability (live error rate; an open breaker excludes) and context headroom,
 * weighted by the profile.
 */
export class Router {
  constructor(
    private readonly options: {
      readonly catalog: Catalog;
      readonly live: LiveModelStats;
      readonly weights: Readonly<Record<RoutingProfileName, ProfileWeights>>;
      readonly breakerState: (model: CatalogModel) => BreakerState;
    },
  ) {}

  rank(request: RankRequest): RouteDecision {
    const { profile, messages, maxTokens } = request;
    const report = classifyComplexity(messages, maxTokens);
    const promptTokens = report.promptTokens + estimateBeyondTextTokens(messages) + estimateToolingTokens(request.tooling);
    const candidates = routeCandidates(this.options.catalog, request.candidates);
    const weights = effectiveWeights(this.options.weights[profile], request.streaming ?? false);
    const raw = candidates.map((model) => {
      const outputTokens = Math.min(maxTokens, model.maxOutputTokens);
      const estimatedCostUsd = costOf(model, {
        promptTokens,
        completionTokens: outputTokens,
        totalTokens: promptTokens + outputTokens,
        cachedTokens: 0,
      });
      const breaker = this.options.breakerState(model);
      const reliability = breaker === 'open' ? 0 : (1 - this.options.live.errorRate(model.id)) * (breaker === 'half_open' ? 0.5 : 1);
      return {
        model,
        estimatedCostUsd,
        expectedLatencyMs: this.options.live.expectedLatencyMs(model, outputTokens),
        expectedTtftMs: this.options.live.expectedTtftMs(model),
        contextHeadroom: model.contextWindow / (promptTokens + outputTokens),
        reliability,
        excluded: this.exclusion(model, promptTokens, maxTokens, breaker, request.exclude),
      };
    });
    const eligible = raw.filter((r) => r.excluded === undefined);
    // Each dimension is scaled to 0..1 over the eligible candidates (best 1, worst 0); latency,
    // cost and headroom on a log scale, since they span orders of magnitude across models.
    const quality = scale(
      eligible.map((r) => r.model.quality),
      (q) => q,
    );
    const latency = scale(
      eligible.map((r) => r.expectedLatencyMs),
      (ms) => -Math.log(ms + 1),
    );
    const ttft = scale(
      eligible.map((r) => r.expectedTtftMs),
      (ms) => -Math.log(ms + 1),
    );
    // The floor keeps free (local) models comparable instead of taking log(0).
    const cost = scale(
      eligible.map((r) => r.estimatedCostUsd),
      (usd) => -Math.log(usd + 1e-7),
    );
    const context = scale(
      eligible.map((r) => r.contextHeadroom),
      (h) => Math.log(Math.min(h, MAX_USEFUL_HEADROOM)),
    );
    const scored: ScoredModel[] = raw.map((r) => {
      const dims = {
        quality: quality(r.model.quality),
        latency: latency(r.expectedLatencyMs),
        ttft: ttft(r.expectedTtftMs),
        cost: cost(r.estimatedCostUsd),
        context: context(r.contextHeadroom),
      };
      const score =
        weights.quality * dims.quality +
        weights.latency * dims.latency +
        weights.ttft * dims.ttft +
        weights.cost * dims.cost +
        weights.reliability * r.reliability +
        weights.context * dims.context +
        TIER_FIT[report.complexity][r.model.tier];
      return extend(r, extend(dims, { score: round4(score) }));
    });
    scored.sort((a, b) => (a.excluded === undefined ? 0 : 1) - (b.excluded === undefined ? 0 : 1) || b.score - a.score);
    return { profile, complexity: report.complexity, promptTokens, ranking: scored };
  }

  /**
   * One reason per model, an open breaker's last: it is the only one that passes, so a model it
   * names could take the request once the breaker admits a probe (the wait a refusal gives).
   */
  private exclusion(
    model: CatalogModel,
    promptTokens: number,
    maxTokens: number,
    breaker: BreakerState,
    exclude: RankRequest['exclude'],
  ): string | undefined {
    if (!model.servedBy) return NO_PROVIDER;
    const excluded = exclude?.(model);
    if (excluded !== undefined) return excluded;
    const needed = promptTokens + Math.min(maxTokens, model.maxOutputTokens);
    if (needed > model.contextWindow) return `${TOO_SMALL}${model.contextWindow} < ${needed} tokens needed`;
    if (breaker === 'open') return BREAKER_OPEN;
    return undefined;
  }
}

/** The models a route ranks: its candidates, or with none every model a provider serves. */
export function routeCandidates(catalog: Pick<Catalog, 'models'>, candidates: readonly CatalogModel[]): readonly CatalogModel[] {
  return candidates.length > 0 ? candidates : catalog.models.filter((m) => m.servedBy);
}

/** Min-max scaling of `transform(value)` over `values`: the best becomes 1, the worst 0. */
function scale(values: readonly number[], transform: (value: number) => number): (value: number) => number {
  const transformed = values.map(transform);
  const lo = Math.min(...transformed);
  const hi = Math.max(...transformed);
  return (value) => (hi - lo < 1e-12 ? 1 : Math.min(1, Math.max(0, (transform(value) - lo) / (hi - lo))));
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
