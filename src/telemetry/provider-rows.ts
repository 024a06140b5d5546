import type { InFlightReading } from '../engine/index.js';
import type { UpstreamCounters } from './stats.js';

export interface ProviderRow extends UpstreamCounters {
  readonly inFlight: number;
  readonly queued: number;
}

const NO_LATENCY = { count: 0, avgMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 } as const;

function uncounted(name: string): UpstreamCounters {
  return {
    name,
    requests: 0,
    successes: 0,
    errors: 0,
    cancelled: 0,
    errorRate: 0,
    latency: NO_LATENCY,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
    raceWins: 0,
    retries: 0,
    skipped: 0,
    queueWaits: 0,
    queueRejections: 0,
  };
}

/**
 * The provider rows GetStats and GET /v1/stats show: the counters since start with this process's
 * slots under the cap on requests in flight, read live. Counters exist once a request has ended, so
 * a provider whose requests are all still running or queued (an upstream hanging from the first
 * call) gets a row from its slots alone: that is when an operator looks for it.
 */
export function providerRows(counted: readonly UpstreamCounters[], slots: readonly InFlightReading[]): ProviderRow[] {
  const live = new Map(slots.map((r) => [r.provider, r]));
  const rows: ProviderRow[] = counted.map((p) => ({
    ...p,
    inFlight: live.get(p.name)?.inFlight ?? 0,
    queued: live.get(p.name)?.queued ?? 0,
  }));
  const named = new Set(counted.map((p) => p.name));
  for (const r of slots) {
    if (named.has(r.provider) || (r.inFlight === 0 && r.queued === 0)) continue;
    rows.push({ ...uncounted(r.provider), inFlight: r.inFlight, queued: r.queued });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}
