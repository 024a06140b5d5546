/**
 * How fast and how good a simulated model is. Larger models answer later and stream slower,
 * so race, fallback and routing show real differences against the simulator.
 */
export interface SimulatedModelProfile {
  readonly id: string;
  /** Delay before the first token, at latencyScale 1. */
  readonly ttftMs: number;
  readonly tokensPerSecond: number;
  /** 0..1, a rough answer quality used by routing and ranking. */
  readonly quality: number;
}

export const DEFAULT_SIM_PROFILES: readonly SimulatedModelProfile[] = Object.freeze(
  [
    { id: 'gpt-4o', ttftMs: 150, tokensPerSecond: 60, quality: 0.86 },
    { id: 'gpt-4o-mini', ttftMs: 50, tokensPerSecond: 150, quality: 0.72 },
    { id: 'gpt-4-turbo', ttftMs: 250, tokensPerSecond: 35, quality: 0.82 },
    { id: 'gpt-3.5-turbo', ttftMs: 40, tokensPerSecond: 200, quality: 0.6 },
    { id: 'gpt-4.1', ttftMs: 140, tokensPerSecond: 70, quality: 0.89 },
    { id: 'gpt-4.1-mini', ttftMs: 60, tokensPerSecond: 130, quality: 0.78 },
    { id: 'gpt-4.1-nano', ttftMs: 30, tokensPerSecond: 220, quality: 0.64 },
    { id: 'o3', ttftMs: 400, tokensPerSecond: 45, quality: 0.95 },
    { id: 'o4-mini', ttftMs: 200, tokensPerSecond: 110, quality: 0.87 },
    { id: 'gpt-5', ttftMs: 300, tokensPerSecond: 55, quality: 0.97 },
    { id: 'gpt-5-mini', ttftMs: 120, tokensPerSecond: 120, quality: 0.88 },
    { id: 'gpt-5-nano', ttftMs: 45, tokensPerSecond: 240, quality: 0.7 },
  ].map((profile) => Object.freeze(profile)),
);

/** Served for model ids that no profile names: the simulator answers any model. */
export const FALLBACK_SIM_PROFILE: Omit<SimulatedModelProfile, 'id'> = Object.freeze({
  ttftMs: 80,
  tokensPerSecond: 100,
  quality: 0.5,
});

/**
 * A case-insensitive lookup (like model matching in fault rules), built once per simulator
 * so a request costs one map read.
 */
export function createProfileLookup(profiles: readonly SimulatedModelProfile[]): (model: string) => SimulatedModelProfile {
  const byId = new Map<string, SimulatedModelProfile>();
  for (const profile of profiles) {
    const key = profile.id.toLowerCase();
    if (!byId.has(key)) byId.set(key, profile);
  }
  return (model) => byId.get(model.toLowerCase()) ?? { id: model, ...FALLBACK_SIM_PROFILE };
}
