import type { Readable } from 'node:stream';
import { withinErrorBodyWait } from './error-body.js';
import { UpstreamTooLargeError } from './too-large.js';

/**
 * The Response look-alike undici-fetch.ts gives the SDKs: what they read of a fetch Response, over
 * undici's plain header object and its Node Readable body, without the WHATWG machinery.
 */

export type RawHeaders = Record<string, string | string[] | undefined>;

/** The Headers reading surface over undici's plain object (lower-case names). */
export class LightHeaders {
  // Private, so it is not an own enumerable property: the SDK's debug formatter calls
  // Object.entries() on non-Headers objects for every request, whatever the log level.
  readonly #raw: RawHeaders;

  constructor(raw: RawHeaders) {
    this.#raw = raw;
  }

  get(name: string): string | null {
    const value = this.#raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.#raw[name.toLowerCase()] !== undefined;
  }

  getSetCookie(): string[] {
    const value = this.#raw['set-cookie'];
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
  }

  forEach(callback: (value: string, name: string, parent: LightHeaders) => void, thisArg?: unknown): void {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.#raw).sort()) {
      const value = this.get(name);
      if (value !== null) yield [name, value];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  append(): never {
    throw new TypeError('immutable');
  }

  set(): never {
    throw new TypeError('immutable');
  }

  delete(): never {
    throw new TypeError('immutable');
  }

  get [Symbol.toStringTag](): string {
    return 'Headers';
  }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** What the SDK reads of a Response; `body` is a Node Readable (async iterable of Buffers). */
export class LightResponse {
  readonly type = 'basic';
  readonly redirected = false;
  #used = false;

  constructor(
    readonly status: number,
    readonly headers: LightHeaders,
    readonly body: Readable | null,
    readonly url: string,
    readonly maxBodyBytes: number,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get statusText(): string {
    return STATUS_TEXT[this.status] ?? '';
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  /** An error status's body for ERROR_BODY_WAIT_MS at most; past that it is closed and the read fails as a body cut short. */
  async text(): Promise<string> {
    if (this.ok) return this.#text();
    const text = await withinErrorBodyWait(this.#text(), () => this.body?.destroy());
    if (text === undefined) throw new TypeError('terminated', { cause: new Error('the error body did not finish in time') });
    return text;
  }

  async #text(): Promise<string> {
    const body = this.body as (Readable & { text?: () => Promise<string> }) | null;
    try {
      if (body !== null && typeof body.text === 'function' && !this.#used && this.#announced() !== undefined) {
        // undici's own body reader, no async iterator per chunk: safe when the length is known
        // (and within the limit), since undici reads no further than content-length.
        this.#used = true;
        return await body.text();
      }
      const bytes = await this.#consume();
      return bytes.toString('utf8');
    } catch (err) {
      throw bodyError(err);
    }
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#consume().catch((err: unknown) => {
      throw bodyError(err);
    });
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  clone(): never {
    throw new TypeError('undici-fetch: clone() is not supported');
  }

  async #consume(): Promise<Buffer> {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    const body = this.body;
    if (body === null) return Buffer.alloc(0);
    this.#announced();
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > this.maxBodyBytes) throw this.#tooLarge();
      chunks.push(chunk);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  }

  /**
   * The announced length when the body is plain (not decoded) and has one; throws when it is
   * over the limit, before anything is read.
   */
  #announced(): number | undefined {
    if (this.headers.has('content-encoding')) return undefined;
    const raw = this.headers.get('content-length');
    if (raw === null || !/^\d+$/.test(raw)) return undefined;
    const length = Number(raw);
    if (length > this.maxBodyBytes) throw this.#tooLarge();
    return length;
  }

  #tooLarge(): UpstreamTooLargeError {
    this.body?.destroy();
    return new UpstreamTooLargeError('body', this.maxBodyBytes);
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }
}

/** fetch's shape for a body that could not be read: aborts stay aborts, the rest is 'terminated'. */
function bodyError(err: unknown): unknown {
  if (err instanceof UpstreamTooLargeError) return err;
  if (err instanceof TypeError && err.message === 'terminated') return err;
  if (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError') return err;
  return new TypeError('terminated', { cause: err });
}
