import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { z } from 'zod';
import { type EgressProxy, proxyAgentOptions, proxyFor } from '../../config/upstream-env.js';
import { SyncError } from './errors.js';

/**
 * Reads one outside document: `http(s)://` through undici, `file://` from the local disk (so an
 * installation without outside network can be fed the same data). Bounded in time and size; every
 * failure is a SyncError whose message says what went wrong.
 */
export interface FetchOptions {
  readonly signal: AbortSignal;
  /** Whole request, connect to last byte; with `deadline`, the whole run's, which it carries. */
  readonly timeoutMs: number;
  /**
   * The run's time limit, shared by all its fetches, so a source that reads many documents (the
   * Hub, one per model) is bounded by timeoutMs as a whole, not timeoutMs per document.
   */
  readonly deadline?: AbortSignal;
  readonly maxBytes: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as upstream calls go. */
  readonly proxy?: EgressProxy | undefined;
  /** A run's proxy agents, kept across its fetches; without them each fetch opens and closes its own. */
  readonly agents?: ProxyAgents;
}

/** The proxy agents of one run that fetches many documents: one connection to the proxy, not one per document. */
export class ProxyAgents {
  private readonly open = new Map<string, Dispatcher>();

  get(proxy: EgressProxy): Dispatcher {
    const key = `${proxy.httpProxy}\u0000${proxy.noProxy}`;
    let agent = this.open.get(key);
    if (!agent) {
      agent = new EnvHttpProxyAgent(proxyAgentOptions(proxy));
      this.open.set(key, agent);
    }
    return agent;
  }

  close(): void {
    for (const agent of this.open.values()) agent.destroy().catch(() => undefined);
    this.open.clear();
  }
}

export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** What every source is given from the config: its bounds (defaults above) and the forward proxy. */
export interface SourceLimits {
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  readonly proxy?: EgressProxy | undefined;
}

/** A source's fetch options for one run: its time limit starts now. */
export function fetchOptions(limits: SourceLimits, signal: AbortSignal, headers?: Readonly<Record<string, string>>): FetchOptions {
  const timeoutMs = limits.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  return {
    signal,
    timeoutMs,
    deadline: AbortSignal.timeout(timeoutMs),
    maxBytes: limits.maxBytes ?? DEFAULT_MAX_BODY_BYTES,
    ...(headers ? { headers } : {}),
    ...(limits.proxy ? { proxy: limits.proxy } : {}),
  };
}

export async function fetchText(url: string, options: FetchOptions): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SyncError('not_configured', `"${url}" is not a URL`);
  }
  if (parsed.protocol !== 'file:' && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SyncError('not_configured', `${url}: only http, https and file URLs are supported`);
  }
  const timeout = options.deadline ?? AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  if (parsed.protocol === 'file:') return readLocal(parsed, options, { signal, timeout });
  const where = redact(parsed);
  // A run every few minutes at most: an agent of its own (or its run's), closed after, keeps no state between runs.
  const proxy = proxyFor(options.proxy, parsed.href);
  const dispatcher: Dispatcher | undefined = proxy
    ? (options.agents?.get(proxy) ?? new EnvHttpProxyAgent(proxyAgentOptions(proxy)))
    : undefined;
  try {
    const res = await request(parsed, {
      method: 'GET',
      signal,
      ...(dispatcher ? { dispatcher } : {}),
      headers: { accept: 'application/json, text/csv;q=0.9, */*;q=0.1', 'user-agent': 'llm-orchestrator catalog sync', ...options.headers },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    if (res.statusCode === 429) {
      discard(res.body);
      const retryAfterMs = retryAfter(res.headers['retry-after']);
      throw new SyncError(
        'rate_limited',
        `${where} answered 429 Too Many Requests${retryAfterMs !== undefined ? ` (Retry-After ${Math.ceil(retryAfterMs / 1000)} s)` : ''}`,
        retryAfterMs,
      );
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      discard(res.body);
      throw new SyncError('http', `${where} answered HTTP ${res.statusCode}`, retryAfter(res.headers['retry-after']));
    }
    const announced = Number(res.headers['content-length']);
    if (Number.isFinite(announced) && announced > options.maxBytes) {
      discard(res.body);
      throw tooLarge(where, options.maxBytes);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > options.maxBytes) {
        discard(res.body);
        throw tooLarge(where, options.maxBytes);
      }
      chunks.push(chunk as Buffer);
    }
    return decode(Buffer.concat(chunks));
  } catch (err) {
    if (err instanceof SyncError) throw err;
    const ended = endedError(where, options, timeout);
    if (ended) throw ended;
    const cause = err instanceof Error ? ((err as { code?: string }).code ?? err.message) : String(err);
    throw new SyncError('unreachable', `${where} could not be reached: ${cause}`);
  } finally {
    if (!options.agents) dispatcher?.destroy().catch(() => undefined);
  }
}

/**
 * A context window or output limit as a source gives it. ModelInfo carries token counts as int32, so
 * a larger one (a source's garbage) would make ListModels fail to encode every model: it fails the
 * run instead, naming the field.
 */
export const tokenCount = z.number().int().nonnegative().max(2_147_483_647, 'a token count up to 2147483647');

/** The longest model name a source may give: the catalog store keeps names up to this length. */
export const MAX_SOURCE_NAME_CHARS = 256;

/** Control characters: PostgreSQL refuses a NUL in text, and no model is named with one. */
const CONTROL = /\p{Cc}/u;

/** Whether a source's model name can be kept; a bad one fails the run, naming it, rather than its recording. */
export function badSourceName(name: string): string | undefined {
  if (name.length > MAX_SOURCE_NAME_CHARS) return `a model name up to ${MAX_SOURCE_NAME_CHARS} characters`;
  if (CONTROL.test(name)) return 'a model name without control characters';
  return undefined;
}

/** A model's name as a source spells it. */
export const sourceName = z
  .string()
  .min(1)
  .superRefine((name, ctx) => {
    const bad = badSourceName(name);
    if (bad) ctx.addIssue({ code: 'custom', message: bad });
  });

/** Parses JSON text against a schema; the first violation is reported with its path. */
export function parseJson<T>(text: string, schema: z.ZodType<T>, where: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SyncError('malformed', `${where}: not valid JSON (${(err as Error).message})`);
  }
  return validate(raw, schema, where);
}

export function validate<T>(raw: unknown, schema: z.ZodType<T>, where: string): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue ? issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('') : '';
  throw new SyncError('malformed', `${where}: unexpected shape at ${path ? `$${path}` : 'the top level'}: ${issue?.message ?? 'invalid'}`);
}

/** A fetch that ended by its time limit or its run's cancellation, as the error to report; undefined otherwise. */
function endedError(where: string, options: FetchOptions, timeout: AbortSignal): SyncError | undefined {
  if (timeout.aborted && !options.signal.aborted) return new SyncError('timeout', `${where} did not answer within ${options.timeoutMs} ms`);
  if (options.signal.aborted) return new SyncError('timeout', `${where}: the run was cancelled`);
  return undefined;
}

/**
 * Paths whose read has not returned yet. A file system call that hangs (a network mount gone)
 * holds one of libuv's pool threads (4 by default, which DNS lookups share) until it returns, and
 * its run cannot cancel it, only leave it: a later run of the same path fails at once rather than
 * hold another thread, so a hung mount cannot take the pool from the rest of the process.
 */
const unreturned = new Set<string>();

/**
 * A local file, under the same time limit as an HTTP document: a file on a network mount that
 * stopped answering holds its read for good, so the run stops waiting for it at its deadline.
 */
async function readLocal(
  url: URL,
  options: FetchOptions,
  ends: { readonly signal: AbortSignal; readonly timeout: AbortSignal },
): Promise<string> {
  const path = fileURLToPath(url);
  if (unreturned.has(path)) throw new SyncError('timeout', `${path}: an earlier read of it has not returned yet`);
  unreturned.add(path);
  const read = readRegular(path, options.maxBytes, ends.signal);
  read.then(
    () => unreturned.delete(path),
    () => unreturned.delete(path),
  );
  try {
    return decode(await untilAborted(read, ends.signal));
  } catch (err) {
    if (err instanceof SyncError) throw err;
    const ended = endedError(path, options, ends.timeout);
    if (ended) throw ended;
    throw new SyncError('unreachable', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** How much of a local file one read asks for. */
const FILE_CHUNK_BYTES = 64 * 1024;

/**
 * Only a regular file is read: a FIFO would hold a pool thread until someone writes it, and a
 * device (/dev/zero) has no size to check the limit against. The size it had when checked is no
 * bound on what the read finds (a file still being written), so the read counts too, and stops
 * one byte past the limit.
 */
async function readRegular(path: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const info = await stat(path);
  if (!info.isFile()) throw new SyncError('unreachable', `cannot read ${path}: not a regular file`);
  if (info.size > maxBytes) throw tooLarge(path, maxBytes);
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      signal.throwIfAborted();
      const chunk = Buffer.allocUnsafe(Math.min(FILE_CHUNK_BYTES, maxBytes + 1 - size));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) return Buffer.concat(chunks, size);
      size += bytesRead;
      if (size > maxBytes) throw tooLarge(path, maxBytes);
      chunks.push(chunk.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** What `work` settles to, or a rejection as soon as `signal` aborts: a stuck file system call cannot be cancelled, only left. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * UTF-8 without a leading byte order mark: files saved by Windows tools start with one, and
 * JSON.parse refuses it where the CSV reader would skip it.
 */
function decode(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/** Closes a body we will not read; the abort it causes is expected, not an error to report. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

function tooLarge(where: string, maxBytes: number): SyncError {
  return new SyncError('too_large', `${where}: the answer is over the limit of ${maxBytes} bytes`);
}

/** Retry-After as seconds or an HTTP date, in milliseconds; absent or unreadable: undefined. */
export function retryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Logs and reports never carry a query string (tokens travel there on some mirrors). */
function redact(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
