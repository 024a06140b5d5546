import OpenAI from 'openai';
import { extend } from '../../domain/extend.js';

type BuildRequestOptions = Parameters<OpenAI['buildRequest']>[0];
type BuiltRequest = Awaited<ReturnType<OpenAI['buildRequest']>>;

/** The URL and the SDK's own headers of one endpoint, made once per provider (direct-post.ts). */
export interface PostShape {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The openai SDK with a cheaper `buildRequest` for the one call shape a gateway makes over and
 * over: a JSON POST with no query and no idempotency key, with or without a few per-request
 * headers (a traceparent). The SDK builds a WHATWG Headers object from six header sources for
 * every request (plus its URL with `new URL()` and a search-params copy); profiles put that at
 * a fifth of the SDK's cost.
 *
 * Here the headers are the SDK's own: for each (retry count, timeout) the SDK builds them once
 * without the per-request headers, they are kept as a frozen plain object, and each request's
 * own headers (a plain object of strings) are laid over them as the SDK would (last wins, null
 * removes). Anything else (GET, query, Headers objects or arrays as per-request headers,
 * streaming request bodies) takes the SDK's path unchanged. Everything after buildRequest
 * (fetch, errors, types) is the SDK's.
 *
 * Safe as long as the SDK's headers depend only on the client's settings, the retry count and
 * the timeout, which holds for openai 6.x (`buildHeaders` in client.ts): an API key given as a
 * function (refreshed per request) is not eligible, and takes the SDK's path.
 */
export class LeanOpenAI extends OpenAI {
  readonly #templates = new Map<string, Readonly<Record<string, string>>>();
  readonly #urls = new Map<string, string>();
  readonly #eligible: boolean;

  constructor(options: ConstructorParameters<typeof OpenAI>[0]) {
    super(options);
    const o = options ?? {};
    this.#eligible =
      typeof o.apiKey === 'string' &&
      o.defaultQuery === undefined &&
      o.fetchOptions === undefined &&
      !('workloadIdentity' in o && o.workloadIdentity !== undefined) &&
      !/[?#]/.test(this.baseURL);
  }

  /**
   * The URL and headers the SDK sends for a JSON POST to `path` (first attempt, the client's
   * timeout), for a caller that sends the request itself; undefined when this client is not
   * eligible and every request must take the SDK's path.
   */
  async postShape(path: string): Promise<PostShape | undefined> {
    if (!this.#eligible) return undefined;
    const built = await this.buildRequest({ method: 'post', path, body: {} });
    const headers: Record<string, string> = {};
    for (const [name, value] of built.req.headers as unknown as Iterable<[string, string]>) headers[name] = value;
    return { url: built.url, headers: Object.freeze(headers) };
  }

  override async buildRequest(options: BuildRequestOptions, extra: { retryCount?: number } = {}): Promise<BuiltRequest> {
    const body = options.body;
    const perRequest = plainHeaders(options.headers);
    if (
      !this.#eligible ||
      perRequest === false ||
      options.method !== 'post' ||
      options.query !== undefined ||
      options.idempotencyKey !== undefined ||
      options.defaultBaseURL !== undefined ||
      options.fetchOptions !== undefined ||
      options.__binaryResponse ||
      body === null ||
      typeof body !== 'object' ||
      Object.getPrototypeOf(body) !== Object.prototype ||
      typeof options.path !== 'string' ||
      !options.path.startsWith('/')
    ) {
      return super.buildRequest(options, extra);
    }
    const retryCount = extra.retryCount ?? 0;
    const timeout = options.timeout ?? this.timeout;
    const key = `${retryCount}:${timeout}`;
    let template = this.#templates.get(key);
    let url = this.#urls.get(options.path);
    if (template === undefined || url === undefined) {
      // The SDK's own request without the per-request headers: the template for this shape.
      const built = await super.buildRequest(extend(options, { headers: undefined }), extra);
      const plain: Record<string, string> = {};
      for (const [name, value] of built.req.headers) plain[name] = value;
      template = Object.freeze(plain);
      url = built.url;
      this.#templates.set(key, template);
      this.#urls.set(options.path, url);
    }
    const headers = perRequest === undefined ? template : withRequestHeaders(template, perRequest);
    const req: BuiltRequest['req'] = { method: 'post', headers: new RequestHeaders(headers) as unknown as Headers };
    if (options.signal) req.signal = options.signal;
    req.body = JSON.stringify(body);
    return { req, url, timeout };
  }
}

/** As the SDK's buildHeaders: a request's own headers come last and win (names lower-cased); null removes. */
export function withRequestHeaders(
  template: Readonly<Record<string, string>>,
  own: Iterable<readonly [string, string | null | undefined]>,
): Record<string, string> {
  // Object.assign, not a spread copy: the headers added below then follow shared shapes (src/domain/extend.ts).
  const merged: Record<string, string> = Object.assign({}, template);
  for (const [name, value] of own) {
    if (value === undefined) continue;
    if (value === null) delete merged[name.toLowerCase()];
    else merged[name.toLowerCase()] = value;
  }
  return merged;
}

// The SDK's User-Agent is `${this.constructor.name}/JS ${VERSION}`: keep the stock "OpenAI/JS".
Object.defineProperty(LeanOpenAI, 'name', { value: 'OpenAI' });

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Per-request headers as lower-cased [name, value | null] pairs when they are a plain object
 * of strings (what our providers pass); undefined when there are none; false for any other
 * shape (Headers, arrays, several values, invalid names), which takes the SDK's path.
 */
function plainHeaders(headers: unknown): [string, string | null][] | undefined | false {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object' || Object.getPrototypeOf(headers) !== Object.prototype) return false;
  if (Object.getOwnPropertySymbols(headers).length > 0) return false;
  const out: [string, string | null][] = [];
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (value === undefined) continue;
    if ((value !== null && typeof value !== 'string') || !TOKEN.test(name)) return false;
    out.push([name.toLowerCase(), value]);
  }
  return out.length === 0 ? undefined : out;
}

/**
 * The request's headers for fetch: iterable as [name, value] pairs (fetch's HeadersInit
 * sequence form, so the platform fetch takes them too) with Headers' forEach/get/has. Its data
 * is private: the SDK formats `req.headers` for a debug line on every request, whatever the log
 * level, with Object.entries() on anything that is not a Headers, which finds nothing here.
 */
class RequestHeaders {
  readonly #values: Readonly<Record<string, string>>;
  readonly #names: readonly string[];

  constructor(values: Readonly<Record<string, string>>) {
    this.#values = values;
    this.#names = namesOf(values);
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    return Object.hasOwn(this.#values, key) ? this.#values[key]! : null;
  }

  has(name: string): boolean {
    return Object.hasOwn(this.#values, name.toLowerCase());
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name of this.#names) callback(this.#values[name]!, name);
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const name of this.#names) yield [name, this.#values[name]!];
  }
}

/** The names of a set of headers; a template's (frozen, shared by every request of its shape) are listed once. */
const templateNames = new WeakMap<object, readonly string[]>();

function namesOf(values: Readonly<Record<string, string>>): readonly string[] {
  if (!Object.isFrozen(values)) return Object.keys(values);
  let names = templateNames.get(values);
  if (names === undefined) {
    names = Object.keys(values);
    templateNames.set(values, names);
  }
  return names;
}
