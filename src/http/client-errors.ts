import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Reason } from '../domain/errors.js';
import { timeOrderedId } from '../domain/ids.js';
import { REQUEST_ID_HEADER } from './call.js';

/**
 * Node's refusals of a request it could not read whole (headers over its limit, a request line
 * it cannot parse, a request still arriving when HTTP_REQUEST_TIMEOUT_MS is over), written in the
 * OpenAI error shape every other answer of this door has: Fastify's default writes
 * `{"error":"Request Timeout",...}`, whose `error` is a string the SDKs cannot read as an error.
 * No route ran, so no key was checked and nothing is counted: the body names no more than the limit.
 */
export function clientErrorHandler(requestTimeoutMs: number): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    // A connection reset has nothing left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const refusal = refusalOf(err.code, requestTimeoutMs);
    // A response already under way on this socket cannot be followed by another one.
    if (socket.writable && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      const requestId = timeOrderedId();
      const body = JSON.stringify({
        error: {
          message: refusal.message,
          type: 'invalid_request_error',
          param: null,
          code: refusal.code,
          reason: refusal.reason,
          request_id: requestId,
        },
      });
      socket.write(
        `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n${REQUEST_ID_HEADER}: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}

function refusalOf(code: string | undefined, requestTimeoutMs: number): { status: number; code: string; reason: string; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return {
      status: 408,
      code: 'request_timeout',
      reason: Reason.DEADLINE_EXCEEDED,
      message: `the request did not arrive in full within ${requestTimeoutMs} ms (HTTP_REQUEST_TIMEOUT_MS)`,
    };
  if (code === 'HPE_HEADER_OVERFLOW')
    return {
      status: 431,
      code: 'request_header_fields_too_large',
      reason: Reason.INVALID_REQUEST,
      message: `the request's headers are over ${maxHeaderSize} bytes in all`,
    };
  return { status: 400, code: 'invalid_request', reason: Reason.INVALID_REQUEST, message: 'the request is not valid HTTP/1.1' };
}
