import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CallKind, CallObserver } from '../../telemetry/call-observer.js';
import { CallSummary } from '../../telemetry/call-summary.js';
import { PropagationTracer, type Tracer } from '../../telemetry/tracing.js';
import { REQUEST_ID_KEY } from './metadata-keys.js';

export type { CallObserver } from '../../telemetry/call-observer.js';

export interface LoggingOptions {
  /** Starts each call's trace; default: W3C propagation only, no spans. */
  readonly tracer?: Tracer;
}

/**
 * The call's summary, keyed by its metadata object: grpc-js hands the handler the same
 * Metadata instance the interceptors passed along with `next(metadata)`, so the handler side
 * (createCallContext) finds what this interceptor created without any id of ours in metadata.
 */
const summaries = new WeakMap<grpc.Metadata, CallSummary>();

/** The summary the logging interceptor attached to this call's metadata (undefined without it). */
export function callSummaryOf(metadata: grpc.Metadata): CallSummary | undefined {
  return summaries.get(metadata);
}

/**
 * One log line per call: method, status code, duration, request id, peer, trace id, and for
 * calls that went upstream the model that answered, tokens, cost, upstream time and our own
 * overhead. A client cancel or an expired deadline never reaches sendStatus (grpc-js only calls
 * onCancel), so those are logged from onCancel, told apart by the deadline. The observer
 * (stats, metrics) hears of every call's start and end.
 */
export function loggingInterceptor(log: Logger, observer: CallObserver, options: LoggingOptions = {}): grpc.ServerInterceptor {
  const tracer = options.tracer ?? new PropagationTracer();
  return (method, call) => {
    const started = performance.now();
    const kind = kindOf(method);
    observer.callStarted?.({ path: method.path, kind });
    let requestId = '';
    let summary: CallSummary | undefined;
    let done = false;
    const finish = (code: grpc.status, details: string | undefined): void => {
      if (done) return;
      done = true;
      const latencyMs = performance.now() - started;
      const upstreamMs = summary?.upstreamMs() ?? 0;
      const usage = summary?.usage();
      const codeName = grpc.status[code] ?? String(code);
      observer.recordCall({ path: method.path, kind, code: codeName, latencyMs, upstreamMs, upstreamRequests: usage?.attempts ?? 0, model: usage?.severalModels ? undefined : usage?.model });
      summary?.trace.end({ code, codeName, details });
      const level = code === grpc.status.OK ? 'info' : code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN ? 'error' : 'warn';
      // Building the line is most of this function's cost; skip it when the level is off.
      if (!log.isLevelEnabled(level)) return;
      const line = {
        method: method.path,
        code: codeName,
        durationMs: round3(latencyMs),
        requestId,
        peer: call.getPeer(),
        ...(summary ? { traceId: summary.trace.traceId } : {}),
        ...(usage
          ? {
              ...(usage.model ? { model: usage.model, provider: usage.provider } : {}),
              attempts: usage.attempts,
              promptTokens: usage.promptTokens,
              completionTokens: usage.completionTokens,
              costUsd: usage.costUsd,
              upstreamMs: round3(upstreamMs),
              overheadMs: round3(Math.max(0, latencyMs - upstreamMs)),
            }
          : {}),
      };
      if (level === 'info') log.info(line, 'call');
      else log[level]({ ...line, details }, 'call');
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const id = metadata.get(REQUEST_ID_KEY)[0];
        if (typeof id === 'string') requestId = id;
        summary = new CallSummary(
          tracer.startCall({
            path: method.path,
            requestId,
            traceparent: single(metadata, 'traceparent'),
            tracestate: joined(metadata, 'tracestate'),
          }),
        );
        summaries.set(metadata, summary);
        next(metadata);
      })
      .withOnCancel(() => {
        const deadline = call.getDeadline();
        const at = deadline instanceof Date ? deadline.getTime() : deadline;
        finish(Date.now() >= at ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED, 'ended by the client or its deadline');
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        finish(status.code, status.details);
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

function kindOf(method: { readonly requestStream: boolean; readonly responseStream: boolean }): CallKind {
  if (method.requestStream) return method.responseStream ? 'bidi_stream' : 'client_stream';
  return method.responseStream ? 'server_stream' : 'unary';
}

/** A header that must appear once (W3C: several `traceparent` values make it invalid). */
function single(metadata: grpc.Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
}

/** A list header whose repeated values join with commas (W3C `tracestate`). */
function joined(metadata: grpc.Metadata, key: string): string | undefined {
  const values = metadata.get(key).filter((v): v is string => typeof v === 'string');
  return values.length === 0 ? undefined : values.join(',');
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
