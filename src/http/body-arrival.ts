import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the JSON body had arrived in full, before it was parsed; 0 without one. */
    bodyArrivedAt: number;
  }
}

/**
 * Fastify's own JSON parser (the same limits and errors), told when a body has arrived in full:
 * the time up to then is the client's, while parsing and checking the body is the gateway's own
 * work, in its overhead as grpc-js decoding a message is. Timed from the route handler's start
 * instead, every request's parsing, validation and hooks would be taken for its arrival.
 */
export function timeBodyArrival(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.decorateRequest('bodyArrivedAt', 0);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    request.bodyArrivedAt = performance.now();
    // Fastify's parser answers through `done`; its type allows a promise it never returns.
    void parse(request, body, done);
  });
}
