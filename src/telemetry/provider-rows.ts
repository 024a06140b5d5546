import type { InFlightReading } from '../engine/index.js';
import { Upstream, type UpstreamCounters } from './stats.js';
import { extend } from '../domain/extend.js';
import { byCodeUnit } from '../domain/order.js';

export interface ProviderRow extends UpstreamCounters {
  readonly inFlight: number;
  readonly queued: number;
}

/**
 * The provider rows GetStats and GET /v1/stats show: the counters since start with this process's
 * slots under the cap on requests in flight, read live. Counters exist once a request has ended, so
 * a provider whose requests are all still running or queued (an upstream hanging from the first
 * call) gets a row from its slots alone: that is when an operator looks for it.
 */
export function providerRows(counted: readonly UpstreamCounters[], slots: readonly InFlightReading[]): ProviderRow[] {
  const live = new Map(slots.map((r) => [r.provider, r]));
  const rows: ProviderRow[] = counted.map((p) =>
    extend(p, {
      inFlight: live.get(p.name)?.inFlight ?? 0,
      queued: live.get(p.name)?.queued ?? 0,
    }),
  );
  const named = new Set(counted.map((p) => p.name));
  for (const r of slots) {
    if (named.has(r.provider) || (r.inFlight === 0 && r.queued === 0)) continue;
    rows.push(extend(new Upstream(r.provider).snapshot(), { inFlight: r.inFlight, queued: r.queued }));
  }
  return rows.sort((a, b) => byCodeUnit(a.name, b.name));
}
