import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ApiKeyStore } from '../../access/keys.js';
import type { CallState } from '../../domain/call-state.js';
import { deadlineExceeded, metadataTooLarge } from '../../domain/errors.js';
import { callDeadlinePassed } from '../../domain/timers.js';
import { metadataBytes } from '../metadata-limit.js';
import { PropagationTracer, type Tracer } from '../../telemetry/tracing.js';
import { toGrpcStatus } from '../errors.js';
import { authenticate } from './auth.js';
import { callerDeadline, deadlinePolicy, endedByDeadline } from './deadline.js';
import { startCallLog, type CallLog, type CallObserver } from './logging.js';
import { requestIdOf, stampRequestId } from './request-id.js';
import { extend } from '../../domain/extend.js';

export interface CallInterceptorOptions {
  readonly log: Logger;
  readonly observer: CallObserver;
  /** Configured API keys; with none the service is open. */
  readonly keys: ApiKeyStore;
  readonly defaultTimeoutMs: number;
  /** Methods that run until the caller leaves (watches): no default deadline. */
  readonly openEnded?: ReadonlySet<string>;
  /** Starts each call's trace; default: W3C propagation only, no spans. */
  readonly tracer?: Tracer;
  /** How long a call may wait for its request message after its headers; 0: no limit. */
  readonly requestMessageTimeoutMs?: number;
  /** GRPC_MAX_METADATA_BYTES; 0: no limit. */
  readonly maxMetadataBytes?: number;
}

/**
 * The call's state, keyed by its metadata object: grpc-js hands the handler the same Metadata
 * instance the interceptor passed on with `next(metadata)`, so the handler finds the state
 * without anything of ours travelling as a header (a client cannot forge it).
 */
const states = new WeakMap<grpc.Metadata, CallState>();

/** The state the call interceptor wrote for this call (undefined on a server without it). */
export function callStateOf(metadata: grpc.Metadata): CallState | undefined {
  return states.get(metadata);
}

/**
 * One interceptor for the four concerns every call shares, each in its own function: the
 * request id (request-id.ts), the log line, metrics and trace (logging.ts), the API key
 * (auth.ts) and the deadline (deadline.ts). One layer instead of four costs less per call
 * (measured: see docs/operations.md), and as the innermost wrapper it can tell the statuses
 * grpc-js sends by itself (an undecodable or oversized request) from client cancels.
 */
export function callInterceptor(options: CallInterceptorOptions): grpc.ServerInterceptor {
  const { log, observer, keys } = options;
  const tracer = options.tracer ?? new PropagationTracer();
  const deadlineOf = deadlinePolicy(options.defaultTimeoutMs, options.openEnded);
  const messageTimeoutMs = options.requestMessageTimeoutMs ?? 0;
  const maxMetadataBytes = options.maxMetadataBytes ?? 0;
  const summaryOptions = { keepsAnswerText: observer.keepsAnswerText };
  return (method, call) => {
    const startedAt = performance.now();
    let requestId = '';
    let callLog: CallLog | undefined;
    // A stream whose headers came without its request (half-open) holds a slot and a socket;
    // it gets a time limit, like the message size has one. grpc-js runs a unary or
    // server-streaming handler only once the request has ended, so for those the request is in
    // when the client half-closes, message or not; a client-streaming one (reflection) is
    // under way from its first message, and may keep its side open as long as it likes.
    let waitingForMessage: NodeJS.Timeout | undefined;
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        requestId = requestIdOf(metadata);
        stampEveryStatus(call, requestId);
        // Read now: once the client has cancelled, grpc-js no longer knows the stream's socket ("unknown").
        const peer = call.getPeer();
        callLog = startCallLog(log, observer, tracer, { method, requestId, startedAt, metadata, peer: () => peer, summaryOptions });
        const bytes = maxMetadataBytes > 0 ? metadataBytes(metadata) : 0;
        const auth =
          bytes > maxMetadataBytes
            ? { ok: false as const, error: metadataTooLarge(bytes, maxMetadataBytes) }
            : authenticate(keys, method.path, metadata);
        if (!auth.ok) {
          const { code, details, metadata: trailers } = toGrpcStatus(auth.error);
          call.sendStatus({ code, details, metadata: trailers });
          return;
        }
        callLog.keyName = auth.principal?.name;
        if (messageTimeoutMs > 0) {
          waitingForMessage = setTimeout(() => {
            const {
              code,
              details,
              metadata: trailers,
            } = toGrpcStatus(deadlineExceeded(`request not received in full within ${messageTimeoutMs} ms of the call's headers`));
            callLog?.finish(code, details);
            call.sendStatus({ code, details, metadata: trailers });
          }, messageTimeoutMs);
        }
        states.set(metadata, {
          protocol: 'grpc',
          method: method.path,
          requestId,
          startedAt,
          deadline: deadlineOf(method.path, call.getDeadline()),
          principal: auth.principal,
          summary: callLog.summary,
        });
        if (!method.requestStream) timeMessageArrival(call, callLog);
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        if (method.requestStream) clearTimeout(waitingForMessage);
        next(message);
      })
      .withOnReceiveHalfClose((next) => {
        clearTimeout(waitingForMessage);
        // grpc-js starts a unary or server-streaming handler here, before its own timer ends a
        // call whose deadline has already passed (a timeout of 0, or spent in transit): a watch
        // would take and send a snapshot, and the client see it, ahead of DEADLINE_EXCEEDED.
        if (!method.requestStream && callerDeadline(call.getDeadline()) <= Date.now()) {
          const { code, details, metadata: trailers } = toGrpcStatus(callDeadlinePassed());
          callLog?.finish(code, details);
          call.sendStatus({ code, details, metadata: trailers });
          return;
        }
        next();
      })
      .withOnCancel(() => {
        clearTimeout(waitingForMessage);
        // Statuses grpc-js sends by itself (an undecodable or oversized request, its own deadline
        // timer) bypass every interceptor: only onCancel runs. Record what the client got.
        const sent = statusSentBy(call);
        // A client cancel or an expired deadline never reaches sendStatus; tell them apart by the deadline.
        const ended = sent ?? {
          code: endedByDeadline(callerDeadline(call.getDeadline())) ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED,
          details: 'ended by the client or its deadline',
        };
        // Recorded once the handler has wound the call down, with the attempts it was charged:
        // grpc-js's own deadline timer sends its status while the handler is still at work.
        const log = callLog;
        log?.summary.afterRun(() => log.finish(ended.code, ended.details));
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendMetadata((metadata, next) => next(requestId ? stampRequestId(metadata, requestId) : metadata))
      .withSendStatus((status, next) => {
        callLog?.finish(status.code, status.details);
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

/**
 * A unary or server-streaming handler waits for its request message: the time the message took
 * to arrive after the call's headers were handled is the client's, in the call's duration but not
 * in the gateway's overhead. Timed from the HTTP/2 stream's bytes rather than from the handler's
 * start, which would count grpc-js decoding the message (a tenth of a millisecond warm, several
 * cold) as the client's too. The stream is paused until the handler asks for the message, so a
 * message already in is read at once and counts next to nothing. Only the innermost interceptor
 * holds grpc-js's base call, and with it the stream.
 */
function timeMessageArrival(call: grpc.ServerInterceptingCallInterface, callLog: CallLog): void {
  const stream = (call as { readonly stream?: NodeJS.EventEmitter }).stream;
  if (!stream) return;
  const readFrom = performance.now();
  // Before grpc-js's own listener, so its decoding is not in the time; adding it does not resume the paused stream.
  stream.prependListener('data', () => {
    callLog.receivingMs = performance.now() - readFrom;
  });
}

/**
 * Puts the request id in the trailers of every status the call ends with. The statuses grpc-js
 * sends by itself (an oversized or undecodable request, its own deadline timer) go straight to
 * grpc-js's base call, past every interceptor's sendStatus; the innermost interceptor holds that
 * base call, so wrapping its sendStatus covers them as well as ours.
 */
function stampEveryStatus(call: grpc.ServerInterceptingCallInterface, requestId: string): void {
  const send = call.sendStatus.bind(call);
  call.sendStatus = (status) => send(extend(status, { metadata: stampRequestId(status.metadata ?? new grpc.Metadata(), requestId) }));
}

/**
 * The status grpc-js itself put on the wire, read from the HTTP/2 stream's sent headers
 * (trailers-only) or trailers. Only the innermost interceptor sees grpc-js's base call, which
 * holds the stream; reading it costs nothing on calls that end normally (onCancel only).
 */
function statusSentBy(call: grpc.ServerInterceptingCallInterface): { code: grpc.status; details: string } | undefined {
  const stream = (
    call as { readonly stream?: { readonly sentHeaders?: Record<string, unknown>; readonly sentTrailers?: Record<string, unknown> } }
  ).stream;
  const sent = stream?.sentTrailers?.['grpc-status'] !== undefined ? stream.sentTrailers : stream?.sentHeaders;
  const code = sent?.['grpc-status'];
  if (code === undefined) return undefined;
  const message = sent?.['grpc-message'];
  return { code: Number(code) as grpc.status, details: typeof message === 'string' ? decodedMessage(message) : '' };
}

/** grpc-js percent-encodes the message it sends. */
function decodedMessage(message: string): string {
  try {
    return decodeURI(message);
  } catch {
    return message;
  }
}
