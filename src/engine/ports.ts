import type { AttemptRecord } from '../domain/chat.js';
import type { Provider } from '../providers/types.js';

/** Where the engine reports what happened; telemetry implements it. */
export interface EngineTelemetry {
  recordAttempt(record: AttemptRecord): void;
  recordRaceWin(model: string): void;
  recordFallback(outcome: { readonly triggered: boolean; readonly defaultMessage: boolean }): void;
  recordTimeToFirstToken(ms: number): void;
  /** A retry the retry budget refused. */
  recordRetryThrottled(): void;
  /** A stream that restarted on another model after a mid-stream failure. */
  recordStreamRestart(): void;
  /** A routed request and the model ranked first. */
  recordRoutingDecision(profile: string, model: string): void;
}

export interface ProviderLookup {
  get(name: string): Provider | undefined;
}
