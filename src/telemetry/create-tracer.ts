import type { EventBus } from '../engine/index.js';
import { PropagationTracer, type Tracer, type TracingOptions } from './tracing.js';

/**
 * The tracer for this configuration. OpenTelemetry is imported only when an endpoint is set,
 * so with tracing off it costs neither start-up time nor memory. Given the engine's event port,
 * the GenAI client metrics are exported to the same endpoint, and stop with the tracer.
 */
export async function createTracer(options: TracingOptions, events?: Pick<EventBus, 'subscribe'>): Promise<Tracer> {
  if (!options.otlpEndpoint) return new PropagationTracer();
  const { OtelTracer } = await import('./otel.js');
  const serviceName = options.serviceName ?? 'llm-orchestrator';
  const tracer = new OtelTracer({ otlpEndpoint: options.otlpEndpoint, serviceName, environment: options.environment });
  if (!events) return tracer;
  const { GenAiMetrics } = await import('./genai-metrics.js');
  const metrics = new GenAiMetrics({ otlpEndpoint: options.otlpEndpoint, serviceName, environment: options.environment });
  const unsubscribe = events.subscribe(metrics.on);
  return {
    startCall: (call) => tracer.startCall(call),
    async shutdown() {
      unsubscribe();
      await Promise.all([tracer.shutdown(), metrics.shutdown()]);
    },
  };
}
