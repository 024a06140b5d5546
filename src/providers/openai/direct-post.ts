import type { UndiciFetch } from '../http/undici-fetch.js';
import { errorForUpstreamStatus, parseRetryAfter, upstreamTimeout } from '../upstream-errors.js';
import type { LeanOpenAI, PostShape } from './lean-openai.js';

/**
 * A chat request's POST without the SDK's request machinery: the SDK's URL and headers for the
 * endpoint, made once (LeanOpenAI.postShape), the body as JSON text, and our undici transport.
 * Per request the SDK spent about a tenth of a unary call's CPU on what a gateway does not use:
 * its options merging, a debug line formatted at every log level, an AbortController and a timer
 * for its timeout, its APIPromise and response parsing. What the SDK would send is unchanged
 * (test/unit/providers/openai/direct-post.test.ts compares the two on the wire).
 *
 * Failures keep the provider's mapping: an error status becomes the upstream status error
 * (Retry-After read), the provider's own timeout UPSTREAM_TIMEOUT; transport errors reject as
 * the transport reports them (`TypeError('fetch failed')`, the abort reason) for the provider's
 * `translate`.
 */
export class DirectPost {
  #shape: Promise<PostShape | undefined> | undefined;

  constructor(
    private readonly client: LeanOpenAI,
    private readonly fetch: UndiciFetch,
    private readonly provider: string,
    private readonly path: string,
    /** The provider's own timeout per call, on top of the call's deadline; undefined: none. */
    private readonly timeoutMs: number | undefined,
  ) {}

  /** The endpoint's shape; undefined when the client takes the SDK's path (see LeanOpenAI). */
  shape(): Promise<PostShape | undefined> {
    this.#shape ??= this.client.postShape(this.path);
    return this.#shape;
  }

  /**
   * POSTs `body` and resolves with a 2xx response (its body unread); an error status is read to
   * its end (so the connection is reused) and rejects as an OrchestratorError.
   */
  async send(shape: PostShape, body: unknown, signal: AbortSignal, extraHeaders?: Readonly<Record<string, string>>): Promise<Response> {
    const headers = extraHeaders === undefined ? shape.headers : withHeaders(shape.headers, extraHeaders);
    const init: RequestInit = { method: 'POST', headers, body: JSON.stringify(body) };
    let response: Response;
    if (this.timeoutMs === undefined) {
      init.signal = signal;
      response = await this.fetch(shape.url, init);
    } else {
      response = await this.withTimeout(shape.url, init, signal, this.timeoutMs);
    }
    if (response.ok) return response;
    await response.text().catch(() => undefined);
    throw errorForUpstreamStatus({ provider: this.provider, status: response.status, retryAfterMs: parseRetryAfter(response.headers) });
  }

  /**
   * The provider's timeout covers the response headers, as the SDK's did; the call's signal keeps
   * aborting the request after them (the body of a stream).
   */
  private async withTimeout(url: string, init: RequestInit, signal: AbortSignal, ms: number): Promise<Response> {
    const controller = new AbortController();
    const follow = (): void => controller.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener('abort', follow, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, ms);
    try {
      return await this.fetch(url, { ...init, signal: controller.signal });
    } catch (err) {
      signal.removeEventListener('abort', follow);
      if (timedOut && !signal.aborted) throw upstreamTimeout(this.provider, ms, err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** As the SDK merges a request's own headers: lower-cased names, the request's last. */
function withHeaders(base: Readonly<Record<string, string>>, extra: Readonly<Record<string, string>>): Record<string, string> {
  const merged: Record<string, string> = { ...base };
  for (const name in extra) {
    const value = extra[name];
    if (value !== undefined) merged[name.toLowerCase()] = value;
  }
  return merged;
}
