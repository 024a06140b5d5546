import { Aborter } from '../../domain/abort.js';
import type { OrchestratorError } from '../../domain/errors.js';
import type { UndiciFetch } from '../http/undici-fetch.js';
import { withinErrorBodyWait } from '../http/error-body.js';
import { postForStream, type StreamResponse } from '../http/undici-stream.js';
import { postForText } from '../http/undici-text.js';
import { errorForUpstreamStatus, malformed, parseRetryAfter, upstreamTimeout } from '../upstream-errors.js';
import { REQUEST_ID_HEADER, upstreamRequestIdOf, withUpstreamRequestId } from '../upstream-request-id.js';
import { accountRefusedIn } from './errors.js';
import { withRequestHeaders, type LeanOpenAI, type PostShape } from './lean-openai.js';
import { extend } from '../../domain/extend.js';

/** An endpoint's shape with its URL split for the dispatcher. */
export interface Endpoint extends PostShape {
  readonly origin: string;
  readonly path: string;
}

/**
 * A chat request's POST without the SDK's request machinery: the SDK's URL and headers for the
 * endpoint, made once (LeanOpenAI.postShape), the body as JSON text, and our undici transport.
 * Per request the SDK spent about a sixth of a unary call's CPU on what a gateway does not use:
 * its options merging, a debug line formatted at every log level, an AbortController and a timer
 * for its timeout, its APIPromise and response parsing. What the SDK would send is unchanged
 * (test/unit/providers/openai/direct-post.test.ts compares the two on the wire).
 *
 * Failures keep the provider's mapping: an error status becomes the upstream status error
 * (Retry-After read), the provider's own timeout UPSTREAM_TIMEOUT; transport errors reject as
 * the transport reports them (`TypeError('fetch failed')`, `TypeError('terminated')`, the abort
 * reason, UpstreamTooLargeError) for the provider's `translate`.
 */
export class DirectPost {
  #endpoint: Promise<Endpoint | undefined> | undefined;

  constructor(
    private readonly client: LeanOpenAI,
    private readonly fetch: UndiciFetch,
    private readonly provider: string,
    private readonly path: string,
    /** The provider's own timeout per call, on top of the call's deadline; undefined: none. */
    private readonly timeoutMs: number | undefined,
    /** Largest body read whole (UPSTREAM_MAX_BODY_BYTES). */
    private readonly maxBodyBytes: number,
  ) {}

  /** The endpoint; undefined when the client takes the SDK's path (see LeanOpenAI). */
  shape(): Promise<Endpoint | undefined> {
    this.#endpoint ??= this.client.postShape(this.path).then((shape) => {
      if (!shape) return undefined;
      const url = new URL(shape.url);
      return extend(shape, { origin: url.origin, path: `${url.pathname}${url.search}` });
    });
    return this.#endpoint;
  }

  /**
   * POSTs `body` and resolves with a 2xx answer, its body unread, for a stream; an error status
   * is read to its end (so the connection is reused, and the body can tell an account out of
   * quota from a rate limit; up to the body limit and ERROR_BODY_WAIT_MS) and rejects as an
   * OrchestratorError.
   */
  async send(
    endpoint: Endpoint,
    body: unknown,
    signal: AbortSignal,
    extraHeaders?: Readonly<Record<string, string>>,
  ): Promise<StreamResponse> {
    const headers = this.headers(endpoint, extraHeaders);
    const text = JSON.stringify(body);
    const response = await this.timed(signal, (s) =>
      postForStream(this.fetch.dispatcher, { origin: endpoint.origin, path: endpoint.path, headers, body: text, signal: s }),
    );
    if (response.status >= 200 && response.status < 300) return response;
    const read: Uint8Array[] = [];
    await withinErrorBodyWait(
      readErrorBody(response.body, this.maxBodyBytes, read).catch(() => undefined),
      () => response.body.destroy(),
    );
    throw this.statusError(response, Buffer.concat(read).toString('utf8'));
  }

  /**
   * POSTs `body` and resolves with the 2xx answer's parsed JSON and its headers (which name the
   * request, should the answer turn out broken); an error status, or a body that is not JSON,
   * rejects as an OrchestratorError.
   */
  async json(
    endpoint: Endpoint,
    body: unknown,
    signal: AbortSignal,
    extraHeaders?: Readonly<Record<string, string>>,
  ): Promise<{ value: unknown; headers: StreamResponse['headers'] }> {
    const headers = this.headers(endpoint, extraHeaders);
    const text = JSON.stringify(body);
    const maxBodyBytes = this.maxBodyBytes;
    const response = await this.timed(signal, (s) =>
      postForText(this.fetch.dispatcher, { origin: endpoint.origin, path: endpoint.path, headers, body: text, maxBodyBytes, signal: s }),
    );
    if (response.status < 200 || response.status >= 300) throw this.statusError(response, response.text);
    try {
      return { value: JSON.parse(response.text) as unknown, headers: response.headers };
    } catch (err) {
      const broken = malformed(this.provider, 'response body', err);
      throw withUpstreamRequestId(broken, { headers: response.headers, header: REQUEST_ID_HEADER.openai, signal });
    }
  }

  /** An error status, told apart by its body (`text`, as far as it was read) where the status alone is not enough. */
  private statusError(response: Pick<StreamResponse, 'status' | 'headers'>, text: string | undefined): OrchestratorError {
    const { status, headers } = response;
    const requestId = upstreamRequestIdOf(headers, REQUEST_ID_HEADER.openai);
    return (
      accountRefusedIn(this.provider, { status, text, requestId }) ??
      errorForUpstreamStatus({ provider: this.provider, status, retryAfterMs: parseRetryAfter(headers), requestId })
    );
  }

  private headers(endpoint: Endpoint, extra: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
    return extra === undefined ? endpoint.headers : withRequestHeaders(endpoint.headers, Object.entries(extra));
  }

  /**
   * Runs `call` on the call's signal, or, with the provider's own timeout, on a signal that also
   * aborts when it passes before `call` settles: a unary answer read whole, a stream's headers
   * (as the SDK's timeout did); the call's signal keeps aborting a stream after them.
   */
  private timed<T>(signal: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ms = this.timeoutMs;
    // Without a timeout, not through an async function: one promise less per request.
    return ms === undefined ? call(signal) : this.within(ms, signal, call);
  }

  private async within<T>(ms: number, signal: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new Aborter();
    const follow = (): void => controller.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener('abort', follow, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, ms);
    try {
      return await call(controller.signal);
    } catch (err) {
      signal.removeEventListener('abort', follow);
      if (timedOut && !signal.aborted) throw upstreamTimeout(this.provider, ms, err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Reads an error answer's body to its end into `chunks`, or closes it past `maxBytes`: what came
 * within the limit is kept, as the unary path keeps it (undici-text.ts), also when the read is cut.
 */
async function readErrorBody(body: StreamResponse['body'], maxBytes: number, chunks: Uint8Array[]): Promise<void> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > maxBytes) break;
    chunks.push(chunk);
  }
}
