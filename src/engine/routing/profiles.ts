import { extend } from '../../domain/extend.js';
export type RoutingProfileName = 'quality' | 'balanced' | 'speed' | 'budget' | 'long_context';

export const ROUTING_PROFILES: readonly RoutingProfileName[] = ['quality', 'balanced', 'speed', 'budget', 'long_context'];

/** A profile's name as callers write it: any case, spaces around, and `-` for `_` (long-context, as the CLI once spelled it). */
export function profileSpelling(raw: string): string {
  return raw.trim().toLowerCase().replaceAll('-', '_');
}

/**
 * How much each dimension counts in a profile's score. Every dimension is first scaled to 0..1
 * over the eligible candidates (best 1, worst 0), so a weight is the most that dimension can
 * add to a score. They are not normalised: the defaults sum to 1, the scale the complexity's tier
 * fit (up to ±0.1, see router.ts) is set against, so scaling all of a profile's weights changes its choices.
 */
export interface ProfileWeights {
  /** Catalog quality score. */
  readonly quality: number;
  /** Expected total latency of the answer (live EWMA, catalog before traffic). */
  readonly latency: number;
  /** Expected time to first token (live EWMA of streams, catalog before traffic). */
  readonly ttft: number;
  /** Estimated cost of this request (catalog prices, this request's tokens). */
  readonly cost: number;
  /** Live success rate; an open breaker excludes, a half-open one halves it. */
  readonly reliability: number;
  /** Context headroom: the window over prompt plus max_tokens (more room is better, up to 32x). */
  readonly context: number;
}

/** Defaults; CONFIG_FILE `routing.profiles` overrides any of them. */
export const DEFAULT_PROFILE_WEIGHTS: Readonly<Record<RoutingProfileName, ProfileWeights>> = {
  quality: { quality: 0.6, latency: 0.1, ttft: 0, cost: 0.1, reliability: 0.2, context: 0 },
  balanced: { quality: 0.35, latency: 0.25, ttft: 0, cost: 0.25, reliability: 0.15, context: 0 },
  speed: { quality: 0.1, latency: 0.35, ttft: 0.3, cost: 0.1, reliability: 0.15, context: 0 },
  budget: { quality: 0.15, latency: 0.1, ttft: 0, cost: 0.6, reliability: 0.15, context: 0 },
  long_context: { quality: 0.3, latency: 0.15, ttft: 0, cost: 0.2, reliability: 0.15, context: 0.2 },
};

/**
 * The weights a request is scored with. A stream's caller waits for the first token before
 * anything else, so on a streamed request half of the latency weight moves to time to first token.
 */
export function effectiveWeights(weights: ProfileWeights, streaming: boolean): ProfileWeights {
  if (!streaming) return weights;
  const moved = weights.latency / 2;
  return extend(weights, { latency: weights.latency - moved, ttft: weights.ttft + moved });
}
