import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { buildConnector, Dispatcher } from 'undici';
import { settleWithin } from '../../domain/timers.js';
import { guardedConnector, tunnelConnector, type AddressPolicy, type ResolveAll } from './connector.js';
import { LightHeaders, LightResponse, type RawHeaders } from './light-response.js';
import { type EgressProxy, proxyAgentOptions } from '../../config/upstream-env.js';
import { Agent, envHttpProxyAgent, originPool, request } from './undici-core.js';
import { contentCoding } from './undici-text.js';
import { extend } from '../../domain/extend.js';

/**
 * A fetch-compatible function for the openai SDK (its `fetch` option) built on undici's
 * `Dispatcher.request()`, the cheapest HTTP client in Node: measured at about a quarter of the
 * CPU of `fetch` per call (bench/transport.ts). What it saves is the WHATWG machinery around
 * every request: Request/Headers/Response objects, webidl conversions, and a web
 * ReadableStream for every body.
 *
 * What it gives the SDK is a Response look-alike with exactly what the SDK reads: `ok`,
 * `status`, `statusText`, `url`, `headers` (get/has/forEach/entries/keys/values/iterator),
 * `json()`, `text()`, `arrayBuffer()`, and `body`, which is undici's Node Readable. The SDK
 * turns a body into an async iterable by using the body's own `Symbol.asyncIterator` when
 * it has one (`ReadableStreamToAsyncIterable`), so SSE needs no web stream either.
 *
 * Semantics kept from fetch:
 * - the AbortSignal aborts the request at any stage; an abort after the headers destroys the
 *   body, which closes the upstream socket (an unfinished HTTP/1.1 response cannot be reused),
 *   and rejects with the signal's reason (a DOMException named AbortError by default);
 * - network failures reject with `TypeError('fetch failed', { cause })`, and a body cut short
 *   rejects `text()`/`json()` with `TypeError('terminated', { cause })`, as undici's fetch does;
 * - `content-encoding` gzip/deflate/br bodies are decoded (nothing asks for them by default:
 *   no `accept-encoding` is sent unless the caller's headers carry one).
 * Differences: redirects are never followed (an API endpoint does not redirect, and a redirect
 * could point at an address the SSRF rules refuse: the 3xx comes back as the answer); there is
 * no cache, no cookies, no CORS; `clone()` throws.
 *
 * Bounded: a body read whole (`text()`, `json()`, `arrayBuffer()`) may be at most `maxBodyBytes`;
 * past that (or as soon as a larger content-length announces it) the body is destroyed, which
 * closes the connection, and the read rejects with UpstreamTooLargeError. Streams read `body`
 * directly and bound each event instead (fast-sse.ts).
 *
 * Timeouts: undici's own headers/body timeouts (300 s by default) are switched off; the
 * caller's AbortSignal carries the deadline, as with the engine's child signals, and an error
 * answer's body gets ERROR_BODY_WAIT_MS at most (error-body.ts).
 */

export interface UndiciFetchOptions {
  /**
   * Connections kept per origin. HTTP/1.1 carries one request at a time per connection, so a
   * stream holds its connection for its whole life: the pool must be at least the peak of
   * concurrent upstream calls or calls queue. Default: no cap (the pool grows to the peak and
   * idle connections are kept `keepAliveTimeoutMs`).
   */
  readonly connections?: number;
  /** How long an idle keep-alive connection is kept, unless the server says less. Default 60 s. */
  readonly keepAliveTimeoutMs?: number;
  /** Upper bound for a server-announced keep-alive. Default 10 minutes. */
  readonly keepAliveMaxTimeoutMs?: number;
  /** Connect timeout. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Use this dispatcher instead of a private Agent (it is then not closed by `close()`). */
  readonly dispatcher?: Dispatcher;
  /** Largest body `text()`/`json()`/`arrayBuffer()` read. Default: no limit. */
  readonly maxBodyBytes?: number;
  /** The SSRF rules, checked on the address of every new connection (connector.ts). Unset: none. */
  readonly addressPolicy?: AddressPolicy;
  /** Replaces the system resolver for those checks (tests). */
  readonly resolve?: ResolveAll;
  /**
   * The forward proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), as `proxyFor` gives it for the
   * origin called (undici sends https:// through `httpProxy` when `httpsProxy` is ''). A proxied request's connection is
   * to the proxy, which resolves the upstream's name: the address rules then apply to the
   * configured URL only (checked at start-up), not to what the proxy connects to.
   */
  readonly proxy?: EgressProxy | undefined;
}

/**
 * A request's init with a body limit of its own for a 2xx answer, whose legitimate size the
 * caller knows (an embeddings answer grows with the vectors asked for); passed through the SDK's
 * `fetchOptions`.
 */
export interface BoundedRequestInit {
  readonly maxBodyBytes?: number;
}

/** The fetch signature the openai SDK expects, plus `close()` for the keep-alive pool. */
export interface UndiciFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /**
   * Refuses new requests and closes the pool once the requests in flight end; after `graceMs`
   * (default 2 s) the rest are destroyed. A dispatcher passed in options is left alone.
   */
  close(graceMs?: number): Promise<void>;
  readonly dispatcher: Dispatcher;
}

export function createUndiciFetch(options: UndiciFetchOptions = {}): UndiciFetch {
  const ownDispatcher = options.dispatcher === undefined;
  const dispatcher: Dispatcher = options.dispatcher ?? ownAgent(options);
  const maxBodyBytes = options.maxBodyBytes ?? Number.POSITIVE_INFINITY;

  const undiciFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const target = targetOf(input);
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) throw abortReason(signal);
    let data: Dispatcher.ResponseData;
    try {
      data = await request(dispatcher, {
        origin: target.origin,
        path: target.path,
        method: (init?.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: flattenHeaders(init?.headers),
        body: bodyOf(init?.body),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw new TypeError('fetch failed', { cause: err });
    }
    const body = decoded(data.body, data.headers);
    // Only an answer may be as large as its request allows; an error body stays within the setting.
    const ok = data.statusCode >= 200 && data.statusCode < 300;
    const limit = (ok ? (init as (RequestInit & BoundedRequestInit) | undefined)?.maxBodyBytes : undefined) ?? maxBodyBytes;
    return new LightResponse(data.statusCode, new LightHeaders(data.headers), body, target.url, limit) as unknown as Response;
  };

  return Object.assign(undiciFetch, {
    dispatcher,
    close: async (graceMs = 2_000): Promise<void> => {
      if (!ownDispatcher) return;
      const closed = await settleWithin(
        dispatcher.close().then(() => 'closed' as const),
        graceMs,
        'late' as const,
      );
      if (closed === 'late') await dispatcher.destroy();
    },
  });
}

type Connector = buildConnector.connector;

interface Target {
  readonly origin: string;
  readonly path: string;
  readonly url: string;
}

/** A keep-alive Agent per provider; with a forward proxy, undici's agent that picks it or the Agent by NO_PROXY. */
function ownAgent(options: UndiciFetchOptions): Dispatcher {
  const pool = extend(options.connections !== undefined ? { connections: options.connections } : {}, {
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 60_000,
    keepAliveMaxTimeout: options.keepAliveMaxTimeoutMs ?? 600_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const agent = extend(pool, {
    connect: guardedConnector({
      timeoutMs: options.connectTimeoutMs ?? 10_000,
      ...(options.addressPolicy ? { policy: options.addressPolicy } : {}),
      ...(options.resolve ? { resolve: options.resolve } : {}),
    }),
  });
  const { proxy } = options;
  if (!proxy) return new Agent(agent);
  // undici's proxy agent opens its tunnels with a connector of its own, past guardedConnector:
  // it is made to behave as a direct one here (tunnelConnector), as each origin's pool is made. The pool
  // that carries plain http:// requests to the proxy is made with no options but that connector:
  // it is given the keep-alive, the limits and the timeouts of the others.
  const factory = (origin: string | URL, opts: object): Dispatcher => {
    const { connect } = opts as { connect?: unknown };
    const own = extend(pool, opts);
    return originPool(origin, typeof connect === 'function' ? extend(own, { connect: tunnelConnector(connect as Connector) }) : own);
  };
  const EnvHttpProxyAgent = envHttpProxyAgent();
  return new EnvHttpProxyAgent(extend(agent, { factory, ...proxyAgentOptions(proxy) }));
}

/** Splits an absolute URL without `new URL()` when it is a plain string (the SDK's case). */
function targetOf(input: string | URL | Request): Target {
  if (typeof input === 'string') {
    const schemeEnd = input.indexOf('://');
    if (schemeEnd > 0 && input.indexOf('@') < 0) {
      const pathStart = input.indexOf('/', schemeEnd + 3);
      if (pathStart < 0) return { origin: input, path: '/', url: input };
      return { origin: input.slice(0, pathStart), path: input.slice(pathStart), url: input };
    }
    return fromURL(new URL(input));
  }
  if (input instanceof URL) return fromURL(input);
  // A Request: its method, headers and body are not merged here; the SDK never passes one.
  return fromURL(new URL(input.url));
}

function fromURL(url: URL): Target {
  return { origin: url.origin, path: `${url.pathname}${url.search}`, url: url.href };
}

/** undici takes a flat [name, value, name, value, ...] list; no Headers object is built. */
function flattenHeaders(headers: RequestInit['headers']): string[] | undefined {
  if (headers === undefined || headers === null) return undefined;
  const flat: string[] = [];
  if (Array.isArray(headers)) {
    for (const [name, value] of headers as [string, string][]) flat.push(name, value);
  } else if (typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function') {
    (headers as Headers).forEach((value, name) => {
      flat.push(name, value);
    });
  } else {
    for (const name of Object.keys(headers)) {
      const value = (headers as Record<string, string | undefined>)[name];
      if (value !== undefined) flat.push(name, value);
    }
  }
  return flat;
}

function bodyOf(body: RequestInit['body']): string | Uint8Array | Readable | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof URLSearchParams) return body.toString();
  if (typeof (body as ReadableStream).getReader === 'function') {
    return Readable.fromWeb(body as import('node:stream/web').ReadableStream);
  }
  if (typeof (body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return Readable.from(body as unknown as AsyncIterable<Uint8Array>);
  }
  // Blob, FormData: let the platform serialise it (the chat API never sends these).
  throw new TypeError('undici-fetch: unsupported request body type (use a string, bytes or a stream)');
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

type Body = Dispatcher.ResponseData['body'];

/** Decodes compressed bodies; the usual case (none) returns undici's body untouched. */
function decoded(body: Body, headers: RawHeaders): Body | Readable {
  const coding = contentCoding(headers['content-encoding']);
  if (coding === undefined) return body;
  const decoder = coding === 'gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : createBrotliDecompress();
  const out = body.pipe(decoder) as unknown as Readable;
  body.on('error', (err) => out.destroy(err));
  out.on('close', () => {
    if (!body.destroyed) body.destroy();
  });
  return out;
}
