import type { FastifyInstance } from 'fastify';
import { providerRows } from '../../telemetry/provider-rows.js';
import type { StatsSnapshot } from '../../telemetry/stats.js';
import type { Engine } from '../../engine/index.js';
import { routeHandler, type HttpCallDeps } from '../call.js';
import { breakerState } from '../engine-calls.js';
import { extend } from '../../domain/extend.js';

export interface StatsReader {
  snapshot(): StatsSnapshot | Promise<StatsSnapshot>;
}

/** GET /health (200 serving, 503 draining; no key needed, like gRPC health) and GET /v1/stats (GetStats). */
export function opsRoutes(app: FastifyInstance, deps: HttpCallDeps, engine: Engine, stats: StatsReader, health: HealthState): void {
  app.get(
    '/health',
    routeHandler(deps, { path: '/grpc.health.v1.Health/Check', kind: 'unary', open: true }, async () =>
      !health.serving || deps.lifecycle.draining ? { json: { status: 'draining' }, status: 503 } : { json: { status: 'serving' } },
    ),
  );
  app.get(
    '/v1/stats',
    routeHandler(deps, { path: '/orchestrator.v1.StatsService/GetStats', kind: 'unary' }, async () => {
      const snapshot = await stats.snapshot();
      const json = snakeCase(snapshot) as Record<string, unknown>;
      // Breaker states are live, not counters: read at each request, as GetStats does.
      const models = (json.models as Record<string, unknown>[]).map((m) =>
        extend(m, { breaker_state: breakerState(engine, String(m.name)) }),
      );
      // So are the provider rows' slots under the cap on requests in flight (this process's, as GetStats has them).
      const providers = snakeCase(providerRows(snapshot.providers, engine.inFlight()));
      return { json: { object: 'stats', ...json, providers, models } };
    }),
  );
}

/** False from the first moment of shutdown, before calls are refused (DRAIN_DELAY_MS), so balancers move first. */
export interface HealthState {
  serving: boolean;
}

/** StatsSnapshot field names in the API's snake_case; dates as ISO strings. */
function snakeCase(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(snakeCase);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [/^[a-z]/.test(k) ? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : k, snakeCase(v)]),
  );
}
