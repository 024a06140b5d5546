import { costOf, type Catalog, type CatalogModel } from '../../catalog/catalog.js';
import type { ChatMessage } from '../../domain/chat.js';
import type { BreakerState } from '../resilience/breakers.js';
import { classifyComplexity, type Complexity } from './complexity.js';
import type { LiveModelStats } from './live-stats.js';
import type { ProfileWeights, RoutingProfileName } from './profiles.js';

export interface ScoredModel {
  readonly model: CatalogModel;
  readonly score: number;
  readonly quality: number;
  readonly latency: number;
  readonly cost: number;
  readonly reliability: number;
  readonly estimatedCostUsd: number;
  readonly expectedLatencyMs: number;
  /** Why it cannot take the request; undefined when eligible. */
  readonly excluded: string | undefined;
}

export interface RouteDecision {
  readonly profile: RoutingProfileName;
  readonly complexity: Complexity;
  readonly promptTokens: number;
  /** Eligible models best first, then the excluded ones. */
  readonly ranking: readonly ScoredModel[];
}

export interface RankRequest {
  readonly profile: RoutingProfileName;
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  /** Resolved candidates; empty means every model with a provider. */
  readonly candidates: readonly CatalogModel[];
}

/** Quality bonus by tier for a prompt's complexity: simple prompts go cheaper, complex ones stronger. */
const TIER_ADJUSTMENT: Readonly<Record<Complexity, Readonly<Record<CatalogModel['tier'], number>>>> = {
  simple: { small: 0.15, medium: 0.05, large: -0.1 },
  moderate: { small: 0, medium: 0, large: 0 },
  complex: { small: -0.2, medium: 0, large: 0.15 },
};

/**
 * Scores candidates on quality (catalog, adjusted for the prompt's complexity), latency (live
 * EWMA, catalog before traffic), cost (catalog prices for this request's tokens) and
 * reliability (live error rate; an open breaker excludes), weighted by the profile.
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
    const candidates = request.candidates.length > 0 ? request.candidates : this.options.catalog.models.filter((m) => m.servedBy);
    const weights = this.options.weights[profile];
    const raw = candidates.map((model) => {
      const outputTokens = Math.min(maxTokens, model.maxOutputTokens);
      const estimatedCostUsd = costOf(model, {
        promptTokens: report.promptTokens,
        completionTokens: outputTokens,
        totalTokens: report.promptTokens + outputTokens,
        cachedTokens: 0,
      });
      const expectedLatencyMs = this.options.live.expectedLatencyMs(model, outputTokens);
      const breaker = this.options.breakerState(model);
      const reliability = breaker === 'open' ? 0 : (1 - this.options.live.errorRate(model.id)) * (breaker === 'half_open' ? 0.5 : 1);
      return { model, estimatedCostUsd, expectedLatencyMs, reliability, excluded: this.exclusion(model, report.promptTokens, maxTokens, breaker) };
    });
    const eligible = raw.filter((r) => r.excluded === undefined);
    const fastest = Math.min(...eligible.map((r) => r.expectedLatencyMs));
    const cheapest = Math.min(...eligible.map((r) => r.estimatedCostUsd));
    const scored: ScoredModel[] = raw.map((r) => {
      const quality = clamp01(r.model.quality + TIER_ADJUSTMENT[report.complexity][r.model.tier]);
      const latency = r.expectedLatencyMs > 0 ? fastest / r.expectedLatencyMs : 1;
      // A tiny floor keeps free (local) models comparable instead of dividing by zero.
      const cost = (cheapest + 1e-9) / (r.estimatedCostUsd + 1e-9);
      const score =
        weights.quality * quality + weights.latency * latency + weights.cost * cost + weights.reliability * r.reliability;
      return { ...r, quality, latency: clamp01(latency), cost: clamp01(cost), score: round4(score) };
    });
    scored.sort((a, b) => (a.excluded === undefined ? 0 : 1) - (b.excluded === undefined ? 0 : 1) || b.score - a.score);
    return { profile, complexity: report.complexity, promptTokens: report.promptTokens, ranking: scored };
  }

  private exclusion(model: CatalogModel, promptTokens: number, maxTokens: number, breaker: BreakerState): string | undefined {
    if (!model.servedBy) return 'no provider configured';
    if (breaker === 'open') return 'circuit breaker open';
    const needed = promptTokens + Math.min(maxTokens, model.maxOutputTokens);
    if (needed > model.contextWindow) return `context window ${model.contextWindow} < ${needed} tokens needed`;
    return undefined;
  }
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
