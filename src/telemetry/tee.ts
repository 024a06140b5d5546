import type { AttemptRecord } from '../domain/chat.js';
import type { EngineTelemetry } from '../engine/index.js';

/** Forwards every engine telemetry call to each sink, in order (the StatsStore and Metrics). */
export class TeeTelemetry implements EngineTelemetry {
  private readonly sinks: readonly EngineTelemetry[];

  constructor(...sinks: readonly EngineTelemetry[]) {
    this.sinks = sinks;
  }

  recordAttempt(record: AttemptRecord): void {
    for (const sink of this.sinks) sink.recordAttempt(record);
  }

  recordRaceWin(model: string): void {
    for (const sink of this.sinks) sink.recordRaceWin(model);
  }

  recordFallback(outcome: { readonly triggered: boolean; readonly defaultMessage: boolean }): void {
    for (const sink of this.sinks) sink.recordFallback(outcome);
  }

  recordTimeToFirstToken(ms: number, model: string): void {
    for (const sink of this.sinks) sink.recordTimeToFirstToken(ms, model);
  }

  recordRetryThrottled(): void {
    for (const sink of this.sinks) sink.recordRetryThrottled();
  }

  recordStreamRestart(): void {
    for (const sink of this.sinks) sink.recordStreamRestart();
  }

  recordRoutingDecision(profile: string, model: string): void {
    for (const sink of this.sinks) sink.recordRoutingDecision(profile, model);
  }

  recordCacheLookup(outcome: 'hit' | 'miss' | 'stale'): void {
    for (const sink of this.sinks) sink.recordCacheLookup(outcome);
  }

  recordAccessRejection(reason: string): void {
    for (const sink of this.sinks) sink.recordAccessRejection(reason);
  }
}
