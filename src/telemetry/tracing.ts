import type { AttemptRecord } from '../domain/chat.js';
import type { UpstreamAttempt } from '../engine/index.js';
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent, sanitizeTracestate } from './trace-context.js';

/**
 * Tracing, one call at a time. Every call gets a trace: the caller's (W3C `traceparent` from
 * gRPC metadata) or a new one when it sent none or an invalid one. Every upstream request of
 * the call carries a `traceparent` naming that trace and a span id of its own, so an upstream
 * that traces sees each attempt as a distinct child.
 *
 * Without an OTLP endpoint only that propagation runs (`PropagationTracer`: a few random bytes
 * per attempt, and OpenTelemetry is never loaded). With one, `createTracer` loads `otel.ts`,
 * which records a SERVER span per call and a CLIENT span per upstream request and exports them.
 */

export interface CallStart {
  /** gRPC method path, e.g. "/orchestrator.v1.ChatService/Chat". */
  readonly path: string;
  readonly requestId: string;
  /** The caller's headers, as received. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** An HTTP API request's method and route: its span follows HTTP's conventions, not gRPC's. */
  readonly http?: { readonly method: string; readonly route: string } | undefined;
  /**
   * When the call arrived (performance.now()), if that was before its span is started: an HTTP
   * request refused once its body was read is timed from its arrival. Unset: now.
   */
  readonly arrivedAt?: number | undefined;
}

export interface CallEnd {
  /** gRPC status code number and name (an HTTP call's: the code its status maps to). */
  readonly code: number;
  readonly codeName: string;
  /** The HTTP status, for calls through the HTTP API. */
  readonly httpStatus?: number | undefined;
  readonly details?: string | undefined;
  /** The name of the API key that made the call, once accepted. */
  readonly keyName?: string | undefined;
}

export interface AttemptSpan {
  /** `traceparent` (and `tracestate` when the caller sent one) for this upstream request. */
  readonly headers: Readonly<Record<string, string>>;
  /** The request ended (success, failure, timeout, cancel), with its record. */
  end(record: AttemptRecord): void;
}

export interface CallTrace {
  readonly traceId: string;
  startAttempt(info: UpstreamAttempt): AttemptSpan;
  end(status: CallEnd): void;
  /** The caller's request tags, as attributes of the call's span (tracers that record spans). */
  tag?(tags: Readonly<Record<string, string>>): void;
}

export interface Tracer {
  startCall(call: CallStart): CallTrace;
  /**
   * Exports what is buffered and stops, waiting for it at most `withinMs` (when given) or its own
   * bound; no-op without an exporter.
   */
  shutdown(withinMs?: number): Promise<void>;
}

export interface TracingOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to `<endpoint>/v1/traces`. Unset: no spans. */
  readonly otlpEndpoint?: string | undefined;
  /** service.name of the exported spans. */
  readonly serviceName?: string | undefined;
  /** deployment.environment.name of the exported spans. */
  readonly environment?: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES: the rest of the resource; serviceName and environment win over theirs. */
  readonly resourceAttributes?: Readonly<Record<string, string>> | undefined;
}

/** Trace propagation only: no spans are recorded, so new traces are sent as not sampled. */
export class PropagationTracer implements Tracer {
  startCall(call: CallStart): CallTrace {
    const parent = parseTraceparent(call.traceparent);
    const tracestate = parent ? sanitizeTracestate(call.tracestate) : undefined;
    const traceId = parent?.traceId ?? newTraceId();
    // A caller's sampling decision passes through unchanged; ours is "not recorded".
    const flags = parent ? parent.flags : 0;
    return {
      traceId,
      startAttempt: () => ({
        headers: traceHeaders({ traceId, spanId: newSpanId(), flags }, tracestate),
        end: () => undefined,
      }),
      end: () => undefined,
    };
  }

  async shutdown(): Promise<void> {}
}

/** The headers of one upstream request. */
export function traceHeaders(
  context: { readonly traceId: string; readonly spanId: string; readonly flags: number },
  tracestate: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = { traceparent: formatTraceparent(context) };
  if (tracestate) headers.tracestate = tracestate;
  return headers;
}
