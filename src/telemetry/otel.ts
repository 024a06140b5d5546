import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  createTraceState,
  trace,
  type Context,
  type Span,
  type Tracer as OtelApiTracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { AttemptRecord } from '../domain/chat.js';
import { UPSTREAM_REQUEST_ID } from '../domain/upstream-errors.js';
import { parseTraceparent, sanitizeTracestate } from './trace-context.js';
import type { UpstreamAttempt } from '../engine/index.js';
import { traceHeaders, type AttemptSpan, type CallEnd, type CallStart, type CallTrace, type Tracer } from './tracing.js';

/**
 * OpenTelemetry spans, loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set (tracing.ts). One
 * SERVER span per gRPC call, child of the caller's `traceparent` when it sent one, and one CLIENT
 * span per upstream request, whose span id is the parent the upstream sees. Spans are created
 * with explicit parents, so no global provider and no context manager are installed: several
 * servers (tests) can each have their own tracer.
 */

export interface OtelTracerOptions {
  readonly serviceName: string;
  /** ENVIRONMENT: the `deployment.environment.name` resource attribute. */
  readonly environment?: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES: the rest of the resource. */
  readonly resourceAttributes?: Readonly<Record<string, string>> | undefined;
  /** OTLP/HTTP base URL; spans are posted to `<endpoint>/v1/traces`. */
  readonly otlpEndpoint?: string;
  /** Replaces the batch processor and OTLP exporter (tests: a SimpleSpanProcessor on an in-memory exporter). */
  readonly spanProcessor?: SpanProcessor;
}

/** gRPC codes that mark a SERVER span as an error (OpenTelemetry RPC semantic conventions). */
const SERVER_ERROR_CODES = new Set([2, 4, 12, 13, 14, 15]);

export class OtelTracer implements Tracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: OtelApiTracer;

  constructor(options: OtelTracerOptions) {
    const processor = options.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(options.otlpEndpoint) }));
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes(options.resourceAttributes ?? {}).merge(
        resourceFromAttributes({
          'service.name': options.serviceName,
          ...(options.environment ? { 'deployment.environment.name': options.environment } : {}),
        }),
      ),
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer('llm-orchestrator');
  }

  startCall(call: CallStart): CallTrace {
    const parent = parseTraceparent(call.traceparent);
    const tracestate = parent ? sanitizeTracestate(call.tracestate) : undefined;
    const parentContext: Context = parent
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.parentId,
          traceFlags: parent.flags,
          isRemote: true,
          ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
        })
      : ROOT_CONTEXT;
    const span = this.tracer.startSpan(
      serverSpanName(call),
      { kind: SpanKind.SERVER, attributes: serverAttributes(call), startTime: call.arrivedAt },
      parentContext,
    );
    const callContext = trace.setSpan(parentContext, span);
    const traceId = span.spanContext().traceId;
    return {
      traceId,
      startAttempt: (info) => this.startAttempt(info, callContext, tracestate),
      end: (status) => endCall(span, status),
      // Request tags as span attributes (orchestrator.tag.<key>): attribution, not metric labels.
      tag: (tags) => span.setAttributes(Object.fromEntries(Object.entries(tags).map(([k, v]) => [`orchestrator.tag.${k}`, v]))),
    };
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }

  private startAttempt(info: UpstreamAttempt, parent: Context, tracestate: string | undefined): AttemptSpan {
    const operation = info.operation ?? 'chat';
    const span = this.tracer.startSpan(
      `${operation} ${info.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': operation,
          'gen_ai.provider.name': info.provider,
          'gen_ai.request.model': info.model,
          'orchestrator.provider': info.provider,
          'orchestrator.retry': info.retry,
        },
      },
      parent,
    );
    const context = span.spanContext();
    let ended = false;
    return {
      headers: traceHeaders({ traceId: context.traceId, spanId: context.spanId, flags: context.traceFlags }, tracestate),
      end: (record) => {
        if (ended) return;
        ended = true;
        endAttempt(span, record);
      },
    };
  }
}

function endAttempt(span: Span, record: AttemptRecord): void {
  span.setAttributes({
    'orchestrator.outcome': record.outcome,
    'gen_ai.usage.input_tokens': record.usage.promptTokens,
    'gen_ai.usage.output_tokens': record.usage.completionTokens,
    'orchestrator.cost_usd': record.costUsd,
  });
  if (record.outcome === 'success') {
    span.setAttribute('gen_ai.response.model', record.model);
    // An array by the convention (one reason per choice); we ask for one choice.
    if (record.finishReason) span.setAttribute('gen_ai.response.finish_reasons', [record.finishReason]);
  } else {
    // error.type: a low-cardinality class of the failure (our ErrorInfo reason), never a message.
    const type = record.error?.reason ?? record.outcome;
    span.setAttribute('error.type', type);
    // The upstream's own id of the request, for its support: bounded and printable where it is read.
    const upstreamRequestId = record.error?.metadata[UPSTREAM_REQUEST_ID];
    if (upstreamRequestId !== undefined) span.setAttribute('orchestrator.upstream_request_id', upstreamRequestId);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  }
  span.end();
}

function serverSpanName(call: CallStart): string {
  return call.http ? `${call.http.method} ${call.http.route}` : call.path.replace(/^\//, '');
}

/** gRPC's or HTTP's server span conventions. */
function serverAttributes(call: CallStart): Record<string, string> {
  if (call.http)
    return { 'http.request.method': call.http.method, 'http.route': call.http.route, 'orchestrator.request_id': call.requestId };
  const { service, method } = splitPath(call.path);
  return { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method, 'orchestrator.request_id': call.requestId };
}

function endCall(span: Span, status: CallEnd): void {
  if (status.httpStatus === undefined) span.setAttribute('rpc.grpc.status_code', status.code);
  else span.setAttribute('http.response.status_code', status.httpStatus);
  if (status.keyName) span.setAttribute('orchestrator.api_key.name', status.keyName);
  if (SERVER_ERROR_CODES.has(status.code)) {
    span.setAttribute('error.type', status.codeName);
    span.setStatus({ code: SpanStatusCode.ERROR, message: status.details ?? status.codeName });
  }
  span.end();
}

function splitPath(path: string): { service: string; method: string } {
  const [, service = '', method = ''] = /^\/?([^/]*)\/(.*)$/.exec(path) ?? [];
  return { service, method };
}

function tracesUrl(endpoint: string | undefined): string | undefined {
  return endpoint === undefined ? undefined : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}
