import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { CallProtocol } from '../domain/call-state.js';
import { clipUtf8 } from '../domain/characters.js';
import { overheadMs, round3 } from '../domain/latency.js';
import type { CallKind, CallObserver } from './call-observer.js';
import type { CallSummary } from './call-summary.js';
import { extend } from '../domain/extend.js';

/**
 * The end of every call, whichever front door it came through: the stats/metrics record, the
 * trace's end and the one log line, with the same fields for gRPC and HTTP: method, status code,
 * duration, request id, peer, trace id, the API key's name, and for calls that went upstream the
 * model that answered, tokens, cost, upstream time and our own overhead.
 */
export interface CallEnding {
  readonly protocol: CallProtocol;
  /** The name stats, metrics and spans know the call by: a gRPC method path. */
  readonly path: string;
  readonly kind: CallKind;
  /** What the log line shows as `method`: the gRPC path, or "POST /v1/chat/completions". */
  readonly method: string;
  readonly requestId: string;
  /** performance.now() when the call arrived. */
  readonly startedAt: number;
  /** FinishedCall.receivingMs: part of the duration, not of the gateway's overhead. */
  readonly receivingMs?: number | undefined;
  readonly summary: CallSummary;
  /** gRPC status code number and name (an HTTP call's: the code its status maps to). */
  readonly code: number;
  readonly codeName: string;
  /** HTTP status, for HTTP calls. */
  readonly httpStatus?: number | undefined;
  readonly details?: string | undefined;
  readonly level: 'info' | 'warn' | 'error';
  readonly peer: () => string;
  /** The API key's name, once the key was accepted. */
  readonly keyName?: string | undefined;
  /**
   * Refused before its request was read (an HTTP body Fastify could not take): no key was
   * checked, so it leaves no record for the ledger, which anyone could fill with them.
   */
  readonly unread?: boolean;
}

/**
 * A call line's level, by the code the client got, whichever door it came through (never by an
 * HTTP status: a stream that fails after its first chunk was sent as a 200): OK and a client
 * that went away (CANCELLED) at info, a bug of ours (INTERNAL, UNKNOWN) at error, any other
 * failure at warn, with its details.
 */
export function callLevel(codeName: string): CallEnding['level'] {
  if (codeName === 'OK' || codeName === 'CANCELLED') return 'info';
  return codeName === 'INTERNAL' || codeName === 'UNKNOWN' ? 'error' : 'warn';
}

export function endCall(log: Logger, observer: CallObserver, c: CallEnding): void {
  const latencyMs = performance.now() - c.startedAt;
  const upstreamMs = c.summary.upstreamMs();
  const receivingMs = c.receivingMs ?? 0;
  const usage = c.summary.usage();
  const { request, answers, error, decision, relayed } = c.summary.outcome();
  // A Batch answered by several models has no one answering model: its tokens and cost are all of theirs.
  const answeredBy = usage?.severalModels ? undefined : usage?.model;
  observer.recordCall({
    path: c.path,
    protocol: c.protocol,
    kind: c.kind,
    code: c.codeName,
    latencyMs,
    upstreamMs,
    receivingMs,
    upstreamRequests: usage?.attempts ?? 0,
    model: answeredBy,
    detail: c.unread
      ? undefined
      : {
          requestId: c.requestId,
          keyName: c.keyName,
          startedAtMs: Date.now() - latencyMs,
          request,
          answers,
          error,
          decision,
          relayed,
        },
  });
  c.summary.trace.end({ code: c.code, codeName: c.codeName, httpStatus: c.httpStatus, details: c.details, keyName: c.keyName });
  // Building the line is most of this function's cost; skip it when the level is off.
  if (!log.isLevelEnabled(c.level)) return;
  const tags = c.summary.tags();
  const upstreamRequestIds = c.summary.upstreamRequestIds();
  const line = {
    protocol: c.protocol,
    method: c.method,
    ...(c.httpStatus !== undefined ? { status: c.httpStatus } : {}),
    code: c.codeName,
    durationMs: round3(latencyMs),
    requestId: c.requestId,
    peer: c.peer(),
    traceId: c.summary.trace.traceId,
    ...(c.keyName ? { key: c.keyName } : {}),
    ...(tags ? { tags } : {}),
    ...(usage
      ? extend(answeredBy ? { model: answeredBy, provider: usage.provider } : {}, {
          attempts: usage.attempts,
          promptTokens: usage.promptTokens,
          completionTokens: usage.completionTokens,
          costUsd: usage.costUsd,
          upstreamMs: round3(upstreamMs),
          overheadMs: round3(overheadMs(latencyMs, upstreamMs, receivingMs)),
        })
      : {}),
    ...(upstreamRequestIds ? { upstreamRequestIds } : {}),
  };
  if (c.level === 'info') log.info(line, 'call');
  else log[c.level](extend(line, { details: c.details === undefined ? undefined : clipUtf8(c.details, DETAILS_MAX_BYTES) }), 'call');
}

/**
 * A line's `details` at most, in UTF-8: what a gRPC status message is held to. An HTTP refusal's
 * message quotes the client's own text (a model name, a role, a field name) unbounded, and one
 * request must not write a line of its body's size.
 */
const DETAILS_MAX_BYTES = 512;
