import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ApiKeyStore } from '../access/keys.js';
import type { Config, HttpConfig } from '../config/config.js';
import { capNetConnections } from '../domain/connection-cap.js';
import { listenError } from '../config/listen-error.js';
import type { TlsFiles } from '../config/tls-files.js';
import { draining, Reason } from '../domain/errors.js';
import type { Engine } from '../engine/index.js';
import { Lifecycle } from '../server/lifecycle.js';
import type { CallObserver } from '../telemetry/call-observer.js';
import type { Tracer } from '../telemetry/tracing.js';
import { arrivalStamp, assignRequestId, endRefused, pathOf, REQUEST_ID_HEADER, type HttpCallDeps, type Refusal } from './call.js';
import { INTERNAL_MESSAGE } from './errors.js';
import { UNSUPPORTED_ENCODING } from './content-encoding.js';
import { timeBodyArrival } from './body-arrival.js';
import { clientErrorHandler } from './client-errors.js';
import { IdleConnections } from './idle-connections.js';
import { chatRoutes } from './routes/chat.js';
import { modelRoutes } from './routes/models.js';
import { embeddingRoutes } from './routes/embeddings.js';
import { opsRoutes, type HealthState, type StatsReader } from './routes/ops.js';
import { extend } from '../domain/extend.js';

/** Asked of listen(); the kernel caps it at net.core.somaxconn. */
const LISTEN_BACKLOG = 65_535;

export interface HttpGatewayOptions {
  readonly config: Config;
  /** The TLS files as the configuration read them; undefined: plaintext HTTP. */
  readonly tls: TlsFiles | undefined;
  readonly engine: Engine;
  /** What GET /v1/stats reports (the StatsStore, or every worker's sum). */
  readonly stats: StatsReader;
  readonly log: Logger;
  readonly keys: ApiKeyStore;
  /** Stats and metrics hear of every call, as from the gRPC logging interceptor. */
  readonly observer: CallObserver;
  readonly tracer: Tracer;
}

/** Paths served, so a wrong method gets 405 rather than 404. */
const ROUTES: Readonly<Record<string, string>> = {
  '/v1/chat/completions': 'POST',
  '/v1/embeddings': 'POST',
  '/v1/models': 'GET',
  '/v1/models/rankings': 'GET',
  '/v1/stats': 'GET',
  '/health': 'GET',
};

/**
 * The OpenAI-compatible HTTP API in front of the same engine as gRPC. Fastify: JSON parsing,
 * the body limit (MAX_MESSAGE_BYTES), content types, routing and TLS; everything a call
 * needs beyond that is in call.ts (the per-call state) and the routes.
 */
export class HttpGateway {
  readonly lifecycle = new Lifecycle();
  private readonly app: FastifyInstance;
  private readonly health: HealthState = { serving: true };
  private readonly connections: IdleConnections;
  private readonly deps: HttpCallDeps;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: HttpGatewayOptions) {
    const { config, engine, log, keys, observer, tracer, stats } = options;
    const { tls } = options;
    // A request that never finishes arriving (a body stopped half way, headers trickled) is cut.
    const { requestTimeout, ...arrival } = requestTimeouts(config.http.requestTimeoutMs);
    this.app = Fastify({
      // One line per call, written by call.ts with the gRPC line's fields; Fastify's own request logs would double it.
      logger: false,
      genReqId: arrivalStamp,
      bodyLimit: config.maxMessageBytes,
      // Draining is ours: 503 with Retry-After in the OpenAI error shape, after DRAIN_DELAY_MS.
      return503OnClosing: false,
      forceCloseConnections: 'idle',
      requestTimeout,
      clientErrorHandler: clientErrorHandler(config.http.requestTimeoutMs),
      // Without it the router answers a path it cannot decode in its own shape, with no request id.
      frameworkErrors: (err, request, reply) => undecodablePath(err, request, reply),
      ...(tls
        ? {
            https: {
              cert: tls.cert,
              key: tls.key,
              ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
              ...arrival,
            },
          }
        : { http: arrival }),
    }) as unknown as FastifyInstance;
    capNetConnections(this.app.server, config.http.maxConnections);
    this.connections = new IdleConnections(this.app.server);
    const deps: HttpCallDeps = {
      log,
      defaultTimeoutMs: config.defaults.timeoutMs,
      keys,
      tracer,
      observer,
      lifecycle: this.lifecycle,
    };
    this.deps = deps;
    const limits = {
      maxContentChars: config.limits.maxContentChars,
      maxModelsPerCall: config.limits.maxModelsPerCall,
      maxImageBytes: config.limits.maxImageBytes,
      defaultTemperature: config.defaults.temperature,
    };
    // JSON only: a text body is a client mistake to name (415), not a string to misread.
    this.app.removeContentTypeParser('text/plain');
    timeBodyArrival(this.app);
    this.app.setErrorHandler((err: FastifyError, request, reply) => this.refuse(err, request, reply));
    this.app.setNotFoundHandler((request, reply) => unrouted(request, reply));
    chatRoutes(this.app, deps, engine, limits);
    modelRoutes(this.app, deps, engine, limits);
    embeddingRoutes(this.app, deps, engine);
    opsRoutes(this.app, deps, engine, stats, this.health);
  }

  /**
   * Binds and returns the port (useful with 0). The accept queue is the kernel's largest
   * (`net.core.somaxconn` caps it): with Node's default of 511, a burst of new connections while
   * the loop is busy overflowed it, and each dropped connection waited a SYN retransmit (1 s,
   * then 3 s) before its first byte.
   */
  async listen({ host, port, hostSetting }: Pick<HttpConfig, 'host' | 'port' | 'hostSetting'>): Promise<number> {
    try {
      await this.app.listen({ host, port, backlog: LISTEN_BACKLOG });
    } catch (err) {
      const listener = { what: 'HTTP port', host, port, portSetting: 'HTTP_PORT', hostSetting };
      throw listenError(err, extend(listener, { orElse: 'HTTP_ENABLED=false' }));
    }
    return (this.app.server.address() as AddressInfo).port;
  }

  /**
   * The HTTP side of a graceful stop, in step with gRPC: /health says 503 at once, calls are
   * refused with 503 DRAINING after `drainDelayMs` (0 after a failed start-up), calls in flight get `graceMs`, then the rest
   * are aborted (their upstream requests close) and the server closes.
   */
  shutdown(graceMs = this.options.config.shutdownGraceMs, drainDelayMs = this.options.config.drainDelayMs): Promise<void> {
    this.stopping ??= this.drainAndStop(graceMs, drainDelayMs);
    return this.stopping;
  }

  private async drainAndStop(graceMs: number, drainDelayMs: number): Promise<void> {
    this.health.serving = false;
    if (drainDelayMs > 0) await new Promise((r) => setTimeout(r, drainDelayMs));
    this.lifecycle.startDraining();
    this.connections.closeAfterEachAnswer();
    if (!(await this.lifecycle.waitForIdle(graceMs))) {
      this.options.log.warn({ inFlight: this.lifecycle.active, protocol: 'http' }, 'grace period over; ending the calls still running');
      this.lifecycle.endAll(draining());
    }
    const force = setTimeout(() => this.app.server.closeAllConnections(), 2_000);
    const closed = this.app.close();
    const stopSweeping = this.connections.closeAsIdle();
    try {
      await closed;
    } finally {
      stopSweeping();
      clearTimeout(force);
    }
  }

  /** Requests Fastify refuses before a route runs: bad JSON, too big, wrong content type. */
  private refuse(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    // Fastify reads the body of a request no route takes (PUT, DELETE) before its not-found
    // handler runs: the method or path is what is wrong with it, whatever the body holds.
    if (request.is404) return unrouted(request, reply);
    const requestId = assignRequestId(request, reply);
    // The client went away while its body was arriving (Node's "aborted"): nothing was refused and
    // nobody is left to answer; a cancel, as gRPC counts a call cancelled before its message.
    if (err.code === 'ECONNRESET') {
      return this.answered(request, reply.code(499).send(), {
        status: 499,
        grpcCode: 'CANCELLED',
        details: 'the client closed the connection',
      });
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      this.options.log.error({ err, url: pathOf(request), requestId }, 'internal error');
      const sent = sendError(reply, 500, 'server_error', 'internal', INTERNAL_MESSAGE, null);
      return this.answered(request, sent, { status: 500, grpcCode: 'INTERNAL', details: INTERNAL_MESSAGE });
    }
    const refused =
      REFUSALS[err.code] ?? (err instanceof SyntaxError ? { status: 400, code: 'invalid_json' } : { status, code: 'invalid_request' });
    if (err.code === UNSUPPORTED_ENCODING) void reply.header('accept-encoding', 'identity');
    const details = refused.message ?? err.message;
    const sent = sendError(reply, refused.status, 'invalid_request_error', refused.code, details, 'body');
    // 413 is the HTTP face of gRPC's RESOURCE_EXHAUSTED for a message over MAX_MESSAGE_BYTES.
    const grpcCode = refused.status === 413 ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT';
    return this.answered(request, sent, { status: refused.status, grpcCode, details });
  }

  /** A refused request's call line, stats and metrics, once its answer is sent. */
  private answered(request: FastifyRequest, reply: FastifyReply, refusal: Refusal): FastifyReply {
    endRefused(this.deps, request, reply, refusal);
    return reply;
  }
}

/** A path no route serves (404), or a served path asked with another method (405, with Allow). */
function unrouted(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  assignRequestId(request, reply);
  const path = pathOf(request);
  const allowed = ROUTES[path] ?? (path.startsWith('/v1/models/') ? 'GET' : undefined);
  if (allowed) {
    // Fastify answers HEAD wherever GET is served, so Allow lists it too (RFC 9110: every method the path takes).
    void reply.header('allow', allowed === 'GET' ? 'GET, HEAD' : allowed);
    return sendError(
      reply,
      405,
      'invalid_request_error',
      'method_not_allowed',
      `${request.method} is not allowed on ${path}; use ${allowed}`,
      null,
    );
  }
  return sendError(
    reply,
    404,
    'invalid_request_error',
    'unknown_url',
    `no route for ${request.method} ${path}: see /v1/chat/completions, /v1/embeddings, /v1/models, /health`,
    null,
  );
}

/** A path the router cannot percent-decode (a bare `%`, bytes that are not UTF-8): no route can be chosen for it. */
function undecodablePath(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  assignRequestId(request, reply);
  const message =
    err.code === 'FST_ERR_BAD_URL'
      ? 'the path is not a valid URL: each % must begin a %XX escape, and the escapes must decode to UTF-8'
      : 'the path cannot be routed';
  return sendError(reply, 400, 'invalid_request_error', 'invalid_url', message, null);
}

const REFUSALS: Readonly<Record<string, { status: number; code: string; message?: string }>> = {
  [UNSUPPORTED_ENCODING]: { status: 415, code: 'unsupported_content_encoding' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'request_too_large', message: 'the request body is over MAX_MESSAGE_BYTES' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'send the body as Content-Type: application/json',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'the body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json' },
};

function sendError(reply: FastifyReply, status: number, type: string, code: string, message: string, param: string | null): FastifyReply {
  const requestId = reply.getHeader(REQUEST_ID_HEADER);
  return reply.code(status).send({
    error: {
      message,
      type,
      param,
      code,
      reason: status >= 500 ? Reason.INTERNAL : Reason.INVALID_REQUEST,
      ...(typeof requestId === 'string' ? { request_id: requestId } : {}),
    },
  });
}

/**
 * Node's server options that bound how long a request may take to arrive: the whole request
 * (`requestTimeout`, a 408 and the connection closed) and its headers alike, checked every
 * quarter of it (Node's default, every 30 s, would let a 1 s limit run to 31 s). None at 0.
 */
function requestTimeouts(requestTimeoutMs: number): {
  readonly requestTimeout: number;
  readonly headersTimeout?: number;
  readonly connectionsCheckingInterval?: number;
} {
  if (requestTimeoutMs === 0) return { requestTimeout: 0 };
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(requestTimeoutMs / 4))),
  };
}
