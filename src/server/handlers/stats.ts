import type { StatsServiceServer } from '../../gen/orchestrator/v1/stats.js';
import type { LatencySummary } from '../../telemetry/histogram.js';
import type { StatsStore, UpstreamCounters } from '../../telemetry/stats.js';
import { unary, type CallDeps } from '../call.js';
import type { Engine } from '../../engine/engine.js';
import { CircuitState } from '../../gen/orchestrator/v1/common.js';
import { encodeCircuit, encodeProfile } from '../encode.js';
import type { RoutingProfileName } from '../../engine/routing/profiles.js';

export function statsService(deps: CallDeps, stats: StatsStore, engine: Engine): StatsServiceServer {
  return {
    getStats: unary(deps, async () => {
      const s = stats.snapshot();
      const ms = s.startedAt.getTime();
      return {
        startedAt: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
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
        providers: s.providers.map((p) => ({ ...upstream(p), breakerState: CircuitState.CIRCUIT_STATE_UNSPECIFIED })),
        models: s.models.map((m) => ({ ...upstream(m), breakerState: encodeCircuit(engine.breakerState(m.name)) })),
        methods: s.methods.map((m) => ({ ...m, latency: latency(m.latency) })),
      };
    }),
  };
}

function latency(l: LatencySummary) {
  return { count: l.count, avgMs: l.avgMs, p50Ms: l.p50Ms, p95Ms: l.p95Ms, p99Ms: l.p99Ms, maxMs: l.maxMs };
}

function upstream(u: UpstreamCounters) {
  return { ...u, latency: latency(u.latency) };
}
