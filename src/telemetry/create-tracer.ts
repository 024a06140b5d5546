import type { Logger } from 'pino';
import { settleWithin } from '../domain/timers.js';
import type { EventBus } from '../engine/index.js';
import { PropagationTracer, type Tracer, type TracingOptions } from './tracing.js';

/**
 * How long a stop waits for the last spans and metrics to reach the collector. The OTLP
 * exporters retry for up to 10 s; a collector that is down or does not answer must not hold the
 * stop past its grace period (the process would be killed, exit 1) nor fail it.
 */
const LAST_EXPORT_MS = 3_000;

/**
 * When a stop's last export is over at the latest, counted from the end of its grace period:
 * serve.ts ends the process 5 s after it, and what closes after the export (the metrics port,
 * Redis) takes far less than the half second left. It comes after the ledger's last writes.
 */
export const LAST_EXPORT_BY_MS = 4_500;

/**
 * The tracer for this configuration. OpenTelemetry is imported only when an endpoint is set,
 * so with tracing off it costs neither start-up time nor memory. Given the engine's event port,
 * the GenAI client metrics are exported to the same endpoint, and stop with the tracer.
 */
export async function createTracer(
  options: TracingOptions,
  events?: Pick<EventBus, 'subscribe'>,
  log?: Pick<Logger, 'warn'>,
): Promise<Tracer> {
  if (!options.otlpEndpoint) return new PropagationTracer();
  const { OtelTracer } = await import('./otel.js');
  const serviceName = options.serviceName ?? 'llm-orchestrator';
  const { environment, resourceAttributes } = options;
  const tracer = new OtelTracer({ otlpEndpoint: options.otlpEndpoint, serviceName, environment, resourceAttributes });
  const { GenAiMetrics } = events ? await import('./genai-metrics.js') : { GenAiMetrics: undefined };
  const metrics = GenAiMetrics && new GenAiMetrics({ otlpEndpoint: options.otlpEndpoint, serviceName, environment, resourceAttributes });
  const unsubscribe = metrics && events?.subscribe(metrics.on);
  return {
    startCall: (call) => tracer.startCall(call),
    async shutdown(withinMs = LAST_EXPORT_MS) {
      unsubscribe?.();
      await lastExport(Promise.all([tracer.shutdown(), metrics?.shutdown()]), Math.max(0, Math.min(withinMs, LAST_EXPORT_MS)), log);
    },
  };
}

/** Waits for the last export at most `waitMs`; what does not go out is dropped with a warning. */
async function lastExport(exported: Promise<unknown>, waitMs: number, log: Pick<Logger, 'warn'> | undefined): Promise<void> {
  const settled = exported.then(
    () => ({ ok: true as const }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  const outcome = await settleWithin(settled, waitMs, { late: true } as const);
  if ('late' in outcome) {
    log?.warn({ waitedMs: waitMs }, 'OTLP collector did not take the last spans and metrics in time; they are dropped');
  } else if (!outcome.ok) {
    log?.warn({ err: outcome.err }, 'OTLP collector unreachable: the last spans and metrics are dropped');
  }
}
