import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream, ServerStreamResponseOptions } from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { acceptableRequestId } from '../domain/call-state.js';
import { extend } from '../domain/extend.js';
import { timeOrderedId } from '../domain/ids.js';
import { round3 } from '../domain/latency.js';
import { callLevel } from '../telemetry/call-log.js';
import { knownHttp2Servers } from './http2-servers.js';
import { REQUEST_ID_KEY } from './interceptors/request-id.js';

/**
 * grpc-js answers a path no service registered (another package's stub, a typo, a method this
 * version does not have) with UNIMPLEMENTED before any interceptor runs, so such a call got no
 * request id and left no log line, unlike every other call. Seen here, on the HTTP/2 stream ahead
 * of grpc-js, it gets both; it stays out of metrics, stats and the ledger, whose method labels
 * and rows a caller could otherwise fill with paths of its own. grpc-js keeps its handlers in a
 * private Map (checked against grpc-js 1.14); where it no longer does, such calls go unlogged as before.
 */
export function answerUnknownMethods(server: grpc.Server, log: Logger): void {
  const handlers = (server as unknown as { handlers?: unknown }).handlers;
  if (!(handlers instanceof Map)) return;
  for (const bound of knownHttp2Servers(server)) {
    if (!(bound instanceof EventEmitter)) continue;
    bound.prependListener('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      const path = headers[':path'];
      if (path === undefined || handlers.has(path)) return;
      watchRefusal(stream, headers, log);
    });
  }
}

function watchRefusal(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, log: Logger): void {
  const startedAt = performance.now();
  const given = headers[REQUEST_ID_KEY];
  const requestId = acceptableRequestId(typeof given === 'string' ? given : undefined) ?? timeOrderedId();
  const socket = stream.session?.socket;
  const peer = socket?.remoteAddress ? `${socket.remoteAddress}${socket.remotePort ? `:${socket.remotePort}` : ''}` : 'unknown';
  const respond = stream.respond.bind(stream);
  stream.respond = (sent?: OutgoingHttpHeaders, options?: ServerStreamResponseOptions): void => {
    const code = Number(sent?.['grpc-status']);
    // Not a gRPC status (a request that is not gRPC gets HTTP 415): no call to record.
    if (sent === undefined || !Number.isInteger(code)) {
      respond(sent, options);
      return;
    }
    respond(extend(sent, { [REQUEST_ID_KEY]: requestId }), options);
    const codeName = grpc.status[code] ?? String(code);
    const level = callLevel(codeName);
    if (!log.isLevelEnabled(level)) return;
    const line = {
      protocol: 'grpc',
      method: headers[':path'],
      code: codeName,
      durationMs: round3(performance.now() - startedAt),
      requestId,
      peer,
    };
    if (level === 'info') log.info(line, 'call');
    else log[level](extend(line, { details: String(sent['grpc-message'] ?? '') }), 'call');
  };
}
