import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CallKind, CallObserver } from '../../telemetry/call-observer.js';
import { callLevel, endCall } from '../../telemetry/call-log.js';
import { CallSummary, type CallSummaryOptions } from '../../telemetry/call-summary.js';
import type { Tracer } from '../../telemetry/tracing.js';

export type { CallObserver } from '../../telemetry/call-observer.js';

export interface CallLog {
  readonly summary: CallSummary;
  /** The API key's name once the key is accepted: on the log line and the span. */
  keyName: string | undefined;
  /**
   * Of the call's duration, the time its request took to arrive in full after its headers: the
   * client's, so the gateway's overhead leaves it out. Set as the request message's bytes arrive.
   */
  receivingMs: number | undefined;
  /** The call is over with this status; only the first report counts. */
  finish(code: grpc.status, details: string | undefined): void;
}

export interface CallLogStart {
  readonly method: grpc.ServerMethodDefinition<unknown, unknown>;
  readonly requestId: string;
  readonly startedAt: number;
  readonly metadata: grpc.Metadata;
  readonly peer: () => string;
  /** The interceptor's, one object for all its calls. */
  readonly summaryOptions: CallSummaryOptions;
}

/** The gRPC side of the per-call telemetry; the line itself is telemetry's endCall, shared with HTTP. */
export function startCallLog(log: Logger, observer: CallObserver, tracer: Tracer, start: CallLogStart): CallLog {
  const { method, requestId, startedAt, metadata } = start;
  const kind = kindOf(method);
  observer.callStarted?.({ path: method.path, protocol: 'grpc', kind });
  const summary = new CallSummary(
    tracer.startCall({
      path: method.path,
      requestId,
      traceparent: single(metadata, 'traceparent'),
      tracestate: joined(metadata, 'tracestate'),
    }),
    start.summaryOptions,
  );
  let done = false;
  const callLog: CallLog = {
    summary,
    keyName: undefined,
    receivingMs: undefined,
    finish: (code, details) => {
      if (done) return;
      done = true;
      const codeName = grpc.status[code] ?? String(code);
      endCall(log, observer, {
        protocol: 'grpc',
        path: method.path,
        kind,
        method: method.path,
        requestId,
        startedAt,
        receivingMs: callLog.receivingMs,
        summary,
        code,
        codeName,
        details,
        level: callLevel(codeName),
        peer: start.peer,
        keyName: callLog.keyName,
      });
    },
  };
  return callLog;
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
