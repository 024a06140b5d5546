import { draining, invalidArgument } from '../../domain/errors.js';
import type { GetStatsResponse, StatsServiceServer, WatchStatsRequest, WatchStatsResponse } from '../../gen/orchestrator/v1/stats.js';
import type { LatencySummary } from '../../telemetry/histogram.js';
import { providerRows } from '../../telemetry/provider-rows.js';
import type { StatsSnapshot, UpstreamCounters } from '../../telemetry/stats.js';
import { serverStream, unary, type CallDeps } from '../call.js';
import type { Engine, RoutingProfileName } from '../../engine/index.js';
import { CircuitState } from '../../gen/orchestrator/v1/common.js';
import { encodeCircuit, encodeProfile, timestamp } from '../encode.js';
import { extend } from '../../domain/extend.js';

/** This process's StatsStore, or with WORKERS > 1 the sum of every worker's (ClusterStats). */
export interface StatsSource {
  snapshot(): StatsSnapshot | Promise<StatsSnapshot>;
}

export function statsService(deps: CallDeps, stats: StatsSource, engine: Engine): StatsServiceServer {
  return {
    getStats: unary(deps, async () => encodeSnapshot(await stats.snapshot(), engine)),

    watchStats: serverStream(
      deps,
      async function* (req: WatchStatsRequest, ctx) {
        const intervalMs = watchInterval(req.intervalMs);
        for (;;) {
          yield [await stats.snapshot()];
          await sleep(intervalMs, ctx.signal);
        }
      },
      (snapshot): WatchStatsResponse => ({ stats: encodeSnapshot(snapshot, engine) }),
      // A watch never finishes by itself: it must not hold shutdown for its grace period.
      { endOnDrain: () => draining('watch again') },
    ),
  };
}

/** A StatsStore snapshot as GetStats (and each WatchStats message) carries it. */
export function encodeSnapshot(s: StatsSnapshot, engine: Pick<Engine, 'breakerState' | 'inFlight'>): GetStatsResponse {
  const ms = s.startedAt.getTime();
  return {
    startedAt: timestamp(ms),
    uptimeSeconds: s.uptimeSeconds,
    totalRequests: s.totalRequests,
    successfulRequests: s.successfulRequests,
    failedRequests: s.failedRequests,
    errorRate: s.errorRate,
    latency: latency(s.latency),
    timeToFirstToken: latency(s.timeToFirstToken),
    promptTokens: s.promptTokens,
    completionTokens: s.completionTokens,
    totalCostUsd: s.totalCostUsd,
    raceWins: s.raceWins,
    fallbacksTriggered: s.fallbacksTriggered,
    defaultMessagesServed: s.defaultMessagesServed,
    retries: s.retries,
    retriesThrottled: s.retriesThrottled,
    streamRestarts: s.streamRestarts,
    routing: s.routing.map((r) => ({ profile: encodeProfile(r.profile as RoutingProfileName), model: r.model, decisions: r.decisions })),
    cacheHits: s.cache.hits,
    cacheMisses: s.cache.misses,
    cacheStaleServed: s.cache.staleServed,
    accessRejections: { ...s.accessRejections },
    providers: providerRows(s.providers, engine.inFlight()).map((p) =>
      extend(upstream(p), {
        breakerState: CircuitState.CIRCUIT_STATE_UNSPECIFIED,
      }),
    ),
    models: s.models.map((m) => extend(upstream(m), { breakerState: encodeCircuit(engine.breakerState(m.name)), inFlight: 0, queued: 0 })),
    methods: s.methods.map((m) => extend(m, { latency: latency(m.latency) })),
  };
}

export const WATCH_INTERVAL = { defaultMs: 1000, minMs: 100, maxMs: 60_000 } as const;

function watchInterval(requested: number | undefined): number {
  if (requested === undefined) return WATCH_INTERVAL.defaultMs;
  if (!Number.isInteger(requested) || requested < WATCH_INTERVAL.minMs || requested > WATCH_INTERVAL.maxMs) {
    throw invalidArgument([
      { field: 'interval_ms', description: `must be between ${WATCH_INTERVAL.minMs} and ${WATCH_INTERVAL.maxMs} (got ${requested})` },
    ]);
  }
  return requested;
}

/** Waits `ms`, or throws the call's abort reason: client cancel, deadline, drain, or shutdown. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function latency(l: LatencySummary) {
  return { count: l.count, avgMs: l.avgMs, p50Ms: l.p50Ms, p95Ms: l.p95Ms, p99Ms: l.p99Ms, maxMs: l.maxMs };
}

function upstream<T extends UpstreamCounters>(u: T) {
  return extend(u, { latency: latency(u.latency) });
}
