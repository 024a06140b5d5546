import { randomUUID } from 'node:crypto';
import type { Attributes, Histogram } from '@opentelemetry/api';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { JsonMetricsSerializer, MetricsExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { GatewayEvent, GatewayListener } from '../engine/index.js';
import { extend } from '../domain/extend.js';

/**
 * The OpenTelemetry GenAI client metrics (semantic conventions, gen-ai-metrics): one
 * `gen_ai.client.operation.duration` point per upstream request and, when it answered, two
 * `gen_ai.client.token.usage` points (input, output). Loaded with a dynamic import only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (create-tracer.ts), and exported over OTLP/HTTP JSON to
 * `<endpoint>/v1/metrics` beside the spans; Prometheus keeps serving our own metrics regardless.
 */

/** The convention's advised buckets for token counts: powers of 4 from 1 to 4^13. */
export const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** The convention's advised buckets for durations, in seconds: 10 ms doubling to 81.92 s. */
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

export interface GenAiMetricsOptions {
  /** OTLP/HTTP base URL; metrics are posted to `<endpoint>/v1/metrics`. */
  readonly otlpEndpoint: string;
  readonly serviceName: string;
  readonly environment?: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES: the rest of the resource. */
  readonly resourceAttributes?: Readonly<Record<string, string>> | undefined;
  /** How often the recorded points are exported (OpenTelemetry's default: 60 s). */
  readonly exportIntervalMs?: number | undefined;
}

export class GenAiMetrics {
  private readonly provider: MeterProvider;
  private readonly tokens: Histogram;
  private readonly duration: Histogram;

  constructor(options: GenAiMetricsOptions) {
    this.provider = new MeterProvider({
      resource: resourceFromAttributes(options.resourceAttributes ?? {}).merge(
        resourceFromAttributes({
          'service.name': options.serviceName,
          // Cumulative series from several processes (WORKERS, replicas) must not look like one.
          'service.instance.id': randomUUID(),
          ...(options.environment ? { 'deployment.environment.name': options.environment } : {}),
        }),
      ),
      readers: [
        new PeriodicExportingMetricReader({
          exporter: otlpMetricExporter(`${options.otlpEndpoint.replace(/\/+$/, '')}/v1/metrics`),
          exportIntervalMillis: options.exportIntervalMs ?? 60_000,
        }),
      ],
    });
    const meter = this.provider.getMeter('llm-orchestrator');
    this.tokens = meter.createHistogram('gen_ai.client.token.usage', {
      unit: '{token}',
      description: 'Number of input and output tokens used',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    this.duration = meter.createHistogram('gen_ai.client.operation.duration', {
      unit: 's',
      description: 'GenAI operation duration',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  }

  /** Subscribed to the engine's event port: one upstream request per `attempt` event. */
  readonly on: GatewayListener = (event: GatewayEvent) => {
    if (event.type !== 'attempt') return;
    const record = event.record;
    // A skipped model (breaker open, no provider) made no request: there is no operation to measure.
    if (record.outcome === 'skipped') return;
    const attributes: Attributes = {
      'gen_ai.operation.name': record.operation ?? 'chat',
      'gen_ai.provider.name': record.provider,
      'gen_ai.request.model': record.model,
    };
    if (record.outcome === 'success') {
      const answered = extend(attributes, { 'gen_ai.response.model': record.model });
      this.duration.record(record.latencyMs / 1000, answered);
      this.tokens.record(record.usage.promptTokens, extend(answered, { 'gen_ai.token.type': 'input' }));
      this.tokens.record(record.usage.completionTokens, extend(answered, { 'gen_ai.token.type': 'output' }));
    } else {
      // error.type: a low-cardinality class of the failure (our ErrorInfo reason), as on the span.
      this.duration.record(record.latencyMs / 1000, extend(attributes, { 'error.type': record.error?.reason ?? record.outcome }));
    }
  };

  /** Exports what is recorded and stops. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** OTLP/HTTP JSON, built from the same exporter parts (and versions) as the span exporter. */
function otlpMetricExporter(url: string): PushMetricExporter {
  return new OTLPExporterBase<ResourceMetrics>(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({ url }, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/json' }),
      JsonMetricsSerializer,
      'otlp_http_metric_exporter',
      MetricsExporterMetricsHelper,
      undefined,
    ),
  );
}
