export type RoutingProfileName = 'quality' | 'balanced' | 'speed' | 'budget' | 'long_context';

export interface ProfileWeights {
  readonly quality: number;
  readonly latency: number;
  readonly cost: number;
  readonly reliability: number;
}

/** Defaults; CONFIG_FILE `routing.profiles` overrides any of them. */
export const DEFAULT_PROFILE_WEIGHTS: Readonly<Record<RoutingProfileName, ProfileWeights>> = {
  quality: { quality: 0.6, latency: 0.1, cost: 0.1, reliability: 0.2 },
  balanced: { quality: 0.35, latency: 0.25, cost: 0.25, reliability: 0.15 },
  speed: { quality: 0.1, latency: 0.65, cost: 0.1, reliability: 0.15 },
  budget: { quality: 0.15, latency: 0.1, cost: 0.6, reliability: 0.15 },
  long_context: { quality: 0.35, latency: 0.2, cost: 0.25, reliability: 0.2 },
};
