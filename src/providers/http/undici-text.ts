import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { ERROR_BODY_WAIT_MS } from './error-body.js';
import { UpstreamTooLargeError } from './too-large.js';

/** A whole response, read: its status, the headers it came with, its body as text. */
export interface TextResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly text: string;
}

export interface TextRequest {
  /** `http://host:port`, no path. */
  readonly origin: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly signal: AbortSignal;
  /** The largest body read (after decoding); past it the request is aborted with UpstreamTooLargeError. */
  readonly maxBodyBytes: number;
}

/**
 * A POST whose answer is read whole, straight from undici's dispatcher: the body's chunks are
 * gathered by a handler as they arrive, with no Readable stream, no async iteration and no
 * headers object made for the body reader (what `request()` and a fetch Response add to every
 * call). For the unary chat call, the most frequent request a gateway makes; a stream's answer
 * is read by undici-stream.ts the same way, its chunks handed out as they arrive.
 *
 * Failures as fetch reports them, so callers map them the same way: an abort rejects with the
 * signal's reason, a connection that fails before the answer with `TypeError('fetch failed')`, one
 * that closes in the middle of the body with `TypeError('terminated')`; a body over the limit (as
 * announced by content-length, or as read) aborts the request, which closes the connection, and
 * rejects with UpstreamTooLargeError. A compressed body (nothing asks for one) is decoded within
 * the same limit. An error status's body is read for ERROR_BODY_WAIT_MS and up to the limit at
 * most: past either the request is aborted (closing the connection) and the answer resolves,
 * its status deciding the failure, with what came by then.
 */
export function postForText(dispatcher: Dispatcher, request: TextRequest): Promise<TextResponse> {
  return new Promise<TextResponse>((resolve, reject) => {
    const { signal } = request;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const handler = new TextHandler(request.maxBodyBytes, signal, resolve, reject);
    signal.addEventListener('abort', handler, { once: true });
    dispatchPost(dispatcher, request, handler);
  });
}

/** Sends the POST to `handler`; a dispatcher that refuses it at once reports to the handler, as any failure. */
export function dispatchPost(
  dispatcher: Dispatcher,
  request: Pick<TextRequest, 'origin' | 'path' | 'headers' | 'body'>,
  handler: Dispatcher.DispatchHandler & { onError(err: Error): void },
): void {
  try {
    dispatcher.dispatch(
      { origin: request.origin, path: request.path, method: 'POST', headers: request.headers, body: request.body },
      handler,
    );
  } catch (err) {
    handler.onError(err as Error);
  }
}

class TextHandler implements Dispatcher.DispatchHandler {
  #abort: ((reason: Error) => void) | undefined;
  #status = 0;
  #raw: Buffer[] = [];
  #chunks: Buffer[] = [];
  #bytes = 0;
  #settled = false;
  #late: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly signal: AbortSignal,
    private readonly resolve: (response: TextResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  /** The call's signal aborted. */
  handleEvent(): void {
    this.#abort?.(this.signal.reason as Error);
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
    if (this.signal.aborted) abort(this.signal.reason as Error);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.#status = statusCode;
    this.#raw = rawHeaders;
    if (statusCode >= 300) {
      this.#late = setTimeout(() => this.#cutShort(), ERROR_BODY_WAIT_MS);
      return true;
    }
    const announced = headerOf(rawHeaders, 'content-length');
    if (announced !== null && headerOf(rawHeaders, 'content-encoding') === null && Number(announced) > this.maxBodyBytes) {
      this.#abort?.(new UpstreamTooLargeError('body', this.maxBodyBytes));
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#bytes + chunk.length > this.maxBodyBytes) {
      if (this.#status >= 300) this.#cutShort();
      else this.#abort?.(new UpstreamTooLargeError('body', this.maxBodyBytes));
      return false;
    }
    this.#bytes += chunk.length;
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.#settled) return;
    if (this.#status >= 300) {
      this.#resolveWith(this.#errorText());
      return;
    }
    let text: string;
    try {
      text = this.#text();
    } catch (err) {
      this.onError(err as Error);
      return;
    }
    this.#resolveWith(text);
  }

  /**
   * An error status's body unfinished after ERROR_BODY_WAIT_MS, or past the body limit: the
   * status decides the failure, so the answer is what came, and the connection is closed.
   */
  #cutShort(): void {
    if (this.#settled) return;
    this.#resolveWith(this.#errorText());
    this.#abort?.(new Error('the error body was cut short'));
  }

  /** An error status's body, as far as it came and decodes: only detail, never the failure. */
  #errorText(): string {
    try {
      return this.#text();
    } catch {
      return '';
    }
  }

  #text(): string {
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#bytes);
    return decoded(body, headerOf(this.#raw, 'content-encoding'), this.maxBodyBytes).toString('utf8');
  }

  #resolveWith(text: string): void {
    this.#done();
    const raw = this.#raw;
    this.resolve({ status: this.#status, headers: { get: (name) => headerOf(raw, name.toLowerCase()) }, text });
  }

  onError(err: Error): void {
    if (this.#settled) return;
    this.#done();
    if (this.signal.aborted) this.reject(this.signal.reason);
    else if (err instanceof UpstreamTooLargeError) this.reject(err);
    else this.reject(new TypeError(this.#status === 0 ? 'fetch failed' : 'terminated', { cause: err }));
  }

  #done(): void {
    this.#settled = true;
    clearTimeout(this.#late);
    this.signal.removeEventListener('abort', this);
  }
}

/** A header's value from undici's raw [name, value, ...] list (several joined by ", "); `name` lower-case. */
export function headerOf(raw: readonly Buffer[], name: string): string | null {
  let value: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length !== name.length || key.toString('latin1').toLowerCase() !== name) continue;
    const v = raw[i + 1]!.toString('latin1');
    value = value === null ? v : `${value}, ${v}`;
  }
  return value;
}

/** The compression a `content-encoding` header names, among those a body is decoded from; undefined: none (or unknown). */
export function contentCoding(encoding: string | readonly string[] | null | undefined): 'gzip' | 'deflate' | 'br' | undefined {
  if (encoding === null || encoding === undefined) return undefined;
  const value = (typeof encoding === 'string' ? encoding : encoding.join(',')).trim().toLowerCase();
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate' || value === 'br') return value;
  return undefined;
}

function decoded(body: Buffer, encoding: string | null, maxBytes: number): Buffer {
  const coding = contentCoding(encoding);
  const limit = Number.isFinite(maxBytes) ? { maxOutputLength: Math.max(1, maxBytes) } : {};
  try {
    if (coding === 'gzip') return gunzipSync(body, limit);
    if (coding === 'deflate') return inflateSync(body, limit);
    if (coding === 'br') return brotliDecompressSync(body, limit);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new UpstreamTooLargeError('body', maxBytes);
    throw err;
  }
  return body;
}
