import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { presentedKey, type ApiKeyStore } from '../access/keys.js';
import { Aborter } from '../domain/abort.js';
import { cancelled, invalidArgument, isLogged } from '../domain/errors.js';
import { acceptableRequestId, effectiveDeadline, type CallState } from '../domain/call-state.js';
import type { CallContext } from '../engine/index.js';
import type { InFlight, Lifecycle } from '../server/lifecycle.js';
import type { CallKind, CallObserver } from '../telemetry/call-observer.js';
import { callLevel, endCall } from '../telemetry/call-log.js';
import { CallSummary } from '../telemetry/call-summary.js';
import type { CallStart, Tracer } from '../telemetry/tracing.js';
import { toHttpError } from './errors.js';
import { refuseEncodedBody } from './content-encoding.js';
import { timeOrderedId } from '../domain/ids.js';
import { armDeadline } from '../domain/timers.js';

export const REQUEST_ID_HEADER = 'x-request-id';
export const TIMEOUT_HEADER = 'x-request-timeout-ms';
const JSON_TYPE = 'application/json; charset=utf-8';

export interface HttpCallDeps {
  readonly log: Logger;
  readonly defaultTimeoutMs: number;
  readonly keys: ApiKeyStore;
  readonly tracer: Tracer;
  readonly observer: CallObserver;
  readonly lifecycle: Lifecycle;
}

export interface RouteInfo {
  /**
   * The name stats and metrics know the call by, gRPC-style `/service/method`: chat
   * completions count as ChatService requests, like Chat and StreamChat.
   */
  readonly path: string;
  readonly kind: CallKind;
  /** Answered without an API key and while draining (health). */
  readonly open?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The call a route serves, for a request refused before its handler ran (callRoute). */
    readonly call?: RouteInfo;
  }
}

/**
 * Options of a route that takes a body: the call it serves, so a request refused before its
 * handler still counts, and the refusal of a body in a content coding.
 */
export function callRoute(route: RouteInfo): {
  readonly config: { readonly call: RouteInfo };
  readonly preParsing: typeof refuseEncodedBody;
} {
  return { config: { call: route }, preParsing: refuseEncodedBody };
}

/** How a request Fastify refused before its route's handler ran was answered. */
export interface Refusal {
  readonly status: number;
  readonly grpcCode: string;
  readonly details: string;
}

/**
 * A request Fastify refused before the route's handler ran (a body it could not read): the
 * route's call, ended as any other with its line, stats and metrics, and trace, as gRPC ends a
 * request it could not decode. Not in the ledger (`unread`): no key was checked.
 */
export function endRefused(deps: HttpCallDeps, request: FastifyRequest, reply: FastifyReply, refusal: Refusal): void {
  const route = request.routeOptions.config.call;
  if (route === undefined) return;
  const requestId = assignRequestId(request, reply);
  const pattern = request.routeOptions.url ?? pathOf(request);
  const started = arrivedAt(request);
  const summary = startSummary(deps, route, request, requestId, { method: request.method, route: pattern }, undefined, started);
  finish(deps, route, {
    // Read as the request arrived (arrivalStamp); 'unknown' only if the socket had none even then.
    peer: { ip: request.ip ?? 'unknown', port: request.socket.remotePort },
    method: `${request.method} ${pattern}`,
    requestId,
    started,
    summary,
    principalName: undefined,
    status: refusal.status,
    grpcCode: refusal.grpcCode,
    details: refusal.details,
    unread: true,
  });
}

/** A call begins: counted as started, its trace opened from the request's arrival (`arrivedAt`). */
function startSummary(
  deps: HttpCallDeps,
  route: RouteInfo,
  request: FastifyRequest,
  requestId: string,
  http: HttpRoute['span'],
  options: ConstructorParameters<typeof CallSummary>[1],
  arrivedAt: number,
): CallSummary {
  deps.observer.callStarted?.({ path: route.path, protocol: 'http', kind: route.kind });
  return new CallSummary(
    deps.tracer.startCall({
      path: route.path,
      requestId,
      traceparent: single(request.headers.traceparent),
      tracestate: joined(request.headers.tracestate),
      http,
      arrivedAt,
    }),
    options,
  );
}

/** The request's path without its query string, which a client may have put a key or a token in: what logs show. */
export function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '';
}

/**
 * Fastify's `genReqId`, asked once per request as it arrives, before its body is read: the id is
 * that moment (`performance.now()`), which every call is timed from, its body's reading
 * included, as gRPC times a call from its headers. Fastify makes an id per request anyway (and
 * measures no time without a logger or hooks); callers know a request by `x-request-id`
 * (assignRequestId), never by this.
 */
export function arrivalStamp(raw: IncomingMessage): string {
  // Node reads a socket's peer only when asked and keeps it once read; a socket already destroyed
  // (a client gone while its body was arriving) has none left to read for its call line.
  void raw.socket.remoteAddress;
  return String(performance.now());
}

function arrivedAt(request: FastifyRequest): number {
  const at = Number(request.id);
  return Number.isFinite(at) ? at : performance.now();
}

/** What a handler gives back: a JSON body (a value, or its text already encoded), or "I wrote the response myself" (a stream). */
export type HandlerResult =
  | { readonly json: unknown; readonly status?: number }
  | { readonly jsonText: string; readonly status?: number }
  | { readonly streamed: true /** Set when the stream ended with an error event. */; readonly error?: unknown };

/** A route as a call's log line and its span name it. */
interface HttpRoute {
  readonly line: string;
  readonly span: NonNullable<CallStart['http']>;
}

export type Handler = (request: FastifyRequest, reply: FastifyReply, ctx: CallContext) => Promise<HandlerResult>;

/**
 * One wrapper for every route, the HTTP counterpart of src/server/call.ts and its interceptors:
 * the request id (taken from `x-request-id` or made, echoed back), the trace (`traceparent`),
 * the API key, the deadline (`x-request-timeout-ms` or DEFAULT_TIMEOUT), one AbortSignal that
 * fires on client disconnect or deadline, the drain check, errors in the OpenAI shape, and one
 * log line per call with the same fields as a gRPC call's.
 */
export function routeHandler(deps: HttpCallDeps, route: RouteInfo, handler: Handler) {
  // One route per handler: its `METHOD /pattern` (the log line's) and its span's method and route
  // are made once per method (GET also answers HEAD), not at each call.
  const methods = new Map<string, HttpRoute>();
  const summaryOptions = { keepsAnswerText: deps.observer.keepsAnswerText };
  const routeOf = (request: FastifyRequest): HttpRoute => {
    let known = methods.get(request.method);
    if (known === undefined) {
      const pattern = request.routeOptions.url ?? request.url;
      known = { line: `${request.method} ${pattern}`, span: { method: request.method, route: pattern } };
      methods.set(request.method, known);
    }
    return known;
  };
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // From the request's arrival, not from now (its body read): as a refused request and a gRPC call are timed.
    const started = arrivedAt(request);
    // A body trickled by its client is the client's time: the call's duration holds it, the gateway's overhead must not.
    const receivingMs = request.bodyArrivedAt > 0 ? request.bodyArrivedAt - started : 0;
    // Read now: once the client has gone, its socket no longer knows the address.
    const peer = { ip: request.ip, port: request.socket.remotePort };
    const requestId = assignRequestId(request, reply);
    const { line: method, span } = routeOf(request);
    const summary = startSummary(deps, route, request, requestId, span, summaryOptions, started);
    const controller = new Aborter();
    const call = { abort: (reason: unknown) => controller.abort(reason) };
    let disarm: (() => void) | undefined;
    let inFlight: InFlight | undefined;
    let principalName: string | undefined;
    const res = reply.raw;
    // 'close' also fires after a complete response; only a close before the end is a disconnect.
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort(cancelled('the client closed the connection'));
    };
    res.on('close', onClose);
    let outcome: { status: number; grpcCode: string; details?: string | undefined };
    try {
      const principal = route.open ? undefined : authenticate(deps.keys, request);
      principalName = principal?.name;
      const state: CallState = {
        protocol: 'http',
        method,
        requestId,
        startedAt: started,
        deadline: callDeadline(request, started, deps.defaultTimeoutMs),
        principal,
        summary,
      };
      disarm = armDeadline(state.deadline, (reason) => controller.abort(reason));
      if (!route.open) inFlight = deps.lifecycle.enter(call);
      const ctx = contextOf(state, controller.signal, deps.log);
      const result = await handler(request, reply, ctx);
      if ('json' in result || 'jsonText' in result) {
        const status = result.status ?? 200;
        // Text with a JSON content type goes out as it is: Fastify's serialiser is skipped.
        const sending =
          'jsonText' in result
            ? reply.code(status).header('content-type', JSON_TYPE).send(result.jsonText)
            : reply.code(status).send(result.json);
        // A reply is a thenable that settles once the response is written; a body written at
        // once (no onSend hook delays it) is awaited for nothing, at two promises.
        if (!reply.sent) await sending;
        outcome = { status, grpcCode: status < 400 ? 'OK' : 'UNAVAILABLE' };
      } else if (result.error !== undefined) {
        summary.failed(result.error);
        const mapped = toHttpError(result.error, requestId);
        if (mapped.internal && !isLogged(result.error)) deps.log.error({ err: result.error, requestId }, 'internal error');
        outcome = { status: res.statusCode, grpcCode: mapped.grpcCode, details: mapped.body.error.message };
      } else {
        outcome = { status: res.statusCode, grpcCode: 'OK' };
      }
    } catch (err) {
      summary.failed(err);
      const mapped = toHttpError(err, requestId);
      if (mapped.internal && !isLogged(err)) deps.log.error({ err, requestId }, 'internal error');
      if (!reply.sent && !res.headersSent && !res.destroyed) {
        await reply.code(mapped.status).headers(mapped.headers).send(mapped.body);
      }
      outcome = { status: mapped.status, grpcCode: mapped.grpcCode, details: mapped.body.error.message };
    } finally {
      disarm?.();
      res.removeListener('close', onClose);
      inFlight?.leave();
    }
    finish(deps, route, { peer, method, requestId, started, receivingMs, summary, principalName, ...outcome });
  };
}

/**
 * `x-request-id` from the caller or a fresh one, set on the reply once: by the route, or by the
 * error and not-found handlers for a request refused before any route ran.
 */
export function assignRequestId(request: FastifyRequest, reply: FastifyReply): string {
  const set = reply.getHeader(REQUEST_ID_HEADER);
  if (typeof set === 'string') return set;
  const given = request.headers[REQUEST_ID_HEADER];
  const requestId = acceptableRequestId(typeof given === 'string' ? given : undefined) ?? timeOrderedId();
  void reply.header(REQUEST_ID_HEADER, requestId);
  return requestId;
}

/** The API key behind the call, checked in constant time; the key itself goes no further. */
function authenticate(keys: ApiKeyStore, request: FastifyRequest) {
  if (!keys.enabled) return undefined;
  const key = presentedKey(single(request.headers.authorization), single(request.headers['x-api-key']));
  const entry = key === undefined ? undefined : keys.authenticate(key);
  if (!entry) {
    throw keys.refusal(key !== undefined, 'Authorization');
  }
  return entry;
}

/** The engine's view of the call, from the typed call state every front door writes. */
function contextOf(state: CallState, signal: AbortSignal, log: Logger): CallContext {
  const { requestId, principal } = state;
  return {
    requestId,
    signal,
    deadline: state.deadline,
    startedAt: state.startedAt,
    log: log.child(principal ? { requestId, key: principal.name } : { requestId }),
    principal,
    upstream: state.summary,
    tag: (tags) => state.summary.tag(tags),
  };
}

/**
 * The call's deadline (epoch ms): `x-request-timeout-ms`, or `defaultTimeoutMs`, counted from the
 * request's arrival (`arrivedAt`, a `performance.now()` reading), as grpc-timeout counts from a
 * call's headers: time the body took to arrive is spent, and a request whose time ran out while
 * it arrived ends with the deadline error before it goes upstream (armDeadline).
 */
function callDeadline(request: FastifyRequest, arrivedAt: number, defaultTimeoutMs: number): number {
  const arrival = Date.now() - (performance.now() - arrivedAt);
  const raw = request.headers[TIMEOUT_HEADER];
  if (raw === undefined) return effectiveDeadline(Infinity, defaultTimeoutMs, arrival);
  const value = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1)) {
    throw invalidArgument([
      { field: TIMEOUT_HEADER, description: `must be a whole number of milliseconds, at least 1 (got ${JSON.stringify(raw)})` },
    ]);
  }
  return arrival + value;
}

interface Finished {
  readonly peer: { readonly ip: string; readonly port: number | undefined };
  readonly method: string;
  readonly requestId: string;
  readonly started: number;
  readonly receivingMs?: number;
  readonly summary: CallSummary;
  readonly principalName: string | undefined;
  readonly status: number;
  readonly grpcCode: string;
  readonly details?: string | undefined;
  readonly unread?: boolean;
}

/** The per-call log line, stats/metrics record and span end: the same function as a gRPC call's. */
function finish(deps: HttpCallDeps, route: RouteInfo, f: Finished): void {
  endCall(deps.log, deps.observer, {
    protocol: 'http',
    path: route.path,
    kind: route.kind,
    method: f.method,
    requestId: f.requestId,
    startedAt: f.started,
    receivingMs: f.receivingMs,
    summary: f.summary,
    code: GRPC_CODE_NUMBERS[f.grpcCode] ?? 2,
    codeName: f.grpcCode,
    httpStatus: f.status,
    details: f.details,
    level: callLevel(f.grpcCode),
    peer: () => (f.peer.port === undefined ? f.peer.ip : `${f.peer.ip}:${f.peer.port}`),
    keyName: f.principalName,
    unread: f.unread,
  });
}

/** gRPC status numbers by name, for the code an HTTP status maps to. */
const GRPC_CODE_NUMBERS: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
