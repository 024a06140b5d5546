import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CallKind, CallObserver } from '../../telemetry/call-observer.js';
import { CallSummary } from '../../telemetry/call-summary.js';
import type { Tracer } from '../../telemetry/tracing.js';

export type { CallObserver } from '../../telemetry/call-observer.js';

export interface CallLog {
  readonly summary: CallSummary;
  /** The call is over with this status; only the first report counts. */
  finish(code: grpc.status, details: string | undefined): void;
}

export interface CallLogStart {
  readonly method: grpc.ServerMethodDefinition<unknown, unknown>;
  readonly requestId: string;
  readonly startedAt: number;
  readonly metadata: grpc.Metadata;
  readonly peer: () => string;
}

/**
 * One log line per call: method, status code, duration, request id, peer, trace id, and for
 * calls that went upstream the model that answered, tokens, cost, upstream time and our own
 * overhead. The observer (stats, metrics) hears of every call's start and end.
 */
export function startCallLog(log: Logger, observer: CallObserver, tracer: Tracer, start: CallLogStart): CallLog {
  const { method, requestId, startedAt, metadata } = start;
  const kind = kindOf(method);
  observer.callStarted?.({ path: method.path, kind });
  const summary = new CallSummary(
    tracer.startCall({
      path: method.path,
      requestId,
      traceparent: single(metadata, 'traceparent'),
      tracestate: joined(metadata, 'tracestate'),
    }),
  );
  let done = false;
  const finish = (code: grpc.status, details: string | undefined): void => {
    if (done) return;
    done = true;
    const latencyMs = performance.now() - startedAt;
    const upstreamMs = summary.upstreamMs();
    const usage = summary.usage();
    const tags = summary.tags();
    const codeName = grpc.status[code] ?? String(code);
    observer.recordCall({ path: method.path, kind, code: codeName, latencyMs, upstreamMs, upstreamRequests: usage?.attempts ?? 0, model: usage?.severalModels ? undefined : usage?.model });
    summary.trace.end({ code, codeName, details });
    const level = code === grpc.status.OK ? 'info' : code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN ? 'error' : 'warn';
    // Building the line is most of this function's cost; skip it when the level is off.
    if (!log.isLevelEnabled(level)) return;
    const line = {
      method: method.path,
      code: codeName,
      durationMs: round3(latencyMs),
      requestId,
      peer: start.peer(),
      traceId: summary.trace.traceId,
      ...(tags ? { tags } : {}),
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
  return { summary, finish };
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
