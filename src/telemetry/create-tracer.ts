import { PropagationTracer, type Tracer, type TracingOptions } from './tracing.js';

/**
 * The tracer for this configuration. OpenTelemetry is imported only when an endpoint is set,
 * so with tracing off it costs neither start-up time nor memory.
 */
export async function createTracer(options: TracingOptions): Promise<Tracer> {
  if (!options.otlpEndpoint) return new PropagationTracer();
  const { OtelTracer } = await import('./otel.js');
  return new OtelTracer({
    otlpEndpoint: options.otlpEndpoint,
    serviceName: options.serviceName ?? 'llm-orchestrator',
    environment: options.environment,
  });
}
