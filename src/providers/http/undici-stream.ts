import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import { contentCoding, dispatchPost, headerOf, type TextRequest } from './undici-text.js';

/** A streamed answer whose headers arrived: its status, headers and body, unread. */
export interface StreamResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ChunkStream;
}

export type StreamRequest = Omit<TextRequest, 'maxBodyBytes'>;

/**
 * Bytes queued for a reader that has not asked for them yet before the socket is paused: what
 * a Readable's default high-water mark allows.
 */
const HIGH_WATER_BYTES = 64 * 1024;

/**
 * Queued bytes below which a paused socket reads on. Not just under the high-water mark: each
 * resume makes undici copy what the socket holds (up to a buffer's worth) into its parser again,
 * and resumed at each small chunk the reader takes (an SSE event is often its own HTTP chunk),
 * a fast upstream streaming to a slow reader cost such a copy per token.
 */
const LOW_WATER_BYTES = HIGH_WATER_BYTES / 4;

/**
 * A POST whose answer is read as it arrives (a server-sent event stream), straight from undici's
 * dispatcher: the handler queues each body chunk for one async iterator, with no Readable
 * stream, no stream-to-iterator adapter and no headers object between the socket and the reader
 * (what `request()` puts there for every stream). Backpressure is the dispatcher's own: past
 * 64 KB queued and unread the handler pauses the socket, and the reader's pull that leaves 16 KB
 * or less resumes it.
 *
 * Failures as fetch reports them, as postForText's: an abort rejects with the signal's reason
 * (before the headers, the returned promise; after them, the reader's next pull), a connection
 * that fails before the headers with `TypeError('fetch failed')`, one that closes in the middle
 * of the body with `TypeError('terminated')`, after the chunks that came before it. A reader that
 * stops early (`return()`, `destroy()`) aborts the request, which closes the connection (an
 * unfinished HTTP/1.1 answer cannot be reused). A compressed body (nothing asks for one) is
 * decoded as it arrives.
 */
export function postForStream(dispatcher: Dispatcher, request: StreamRequest): Promise<StreamResponse> {
  return new Promise<StreamResponse>((resolve, reject) => {
    const { signal } = request;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const body = new ChunkStream(signal);
    const handler = new StreamHandler(body, signal, resolve, reject);
    signal.addEventListener('abort', body, { once: true });
    dispatchPost(dispatcher, request, handler);
  });
}

type Settle = { resolve: (result: IteratorResult<Buffer>) => void; reject: (err: unknown) => void };

/**
 * The body: chunks in from the handler, out to one async iterator. Also the listener of the
 * call's signal (`handleEvent`), which aborts the request at any stage.
 */
export class ChunkStream implements AsyncIterable<Buffer>, AsyncIterator<Buffer> {
  #chunks: Buffer[] = [];
  #queuedBytes = 0;
  #waiting: Settle | undefined;
  #ended = false;
  #error: unknown;
  #abort: ((reason: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #paused = false;
  #decoder: Transform | undefined;
  #decoderFull = false;

  constructor(private readonly signal: AbortSignal) {}

  /** Bytes received (decoded) and not read yet. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) {
      this.#queuedBytes -= chunk.length;
      if (this.#queuedBytes <= LOW_WATER_BYTES) {
        this.#decoder?.resume();
        this.#wake();
      }
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  /** The reader stopped early: the request is aborted, which closes its connection. */
  return(): Promise<IteratorResult<Buffer>> {
    this.destroy();
    return Promise.resolve({ done: true, value: undefined });
  }

  destroy(): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#fail(new Error('the stream was closed by its reader'));
  }

  /** The call's signal aborted. */
  handleEvent(): void {
    this.#fail(this.signal.reason);
  }

  /** @internal The handler's side. */
  connected(abort: (reason: Error) => void): void {
    this.#abort = abort;
    if (this.signal.aborted) abort(this.signal.reason as Error);
  }

  /** @internal */
  started(resume: () => void, coding: ReturnType<typeof contentCoding>): void {
    this.#resume = resume;
    if (coding === undefined) return;
    const decoder = coding === 'gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : createBrotliDecompress();
    decoder.on('data', (chunk: Buffer) => this.#push(chunk));
    decoder.on('end', () => this.#end());
    decoder.on('error', (err) => this.#fail(new TypeError('terminated', { cause: err })));
    this.#decoder = decoder;
  }

  /** @internal False: pause the socket until the reader catches up. */
  data(chunk: Buffer): boolean {
    if (this.#decoder) {
      // The decoder's input is bounded too: its output stops while the queue is full (#push),
      // and then its input buffer fills.
      if (!this.#decoder.write(chunk) && !this.#decoderFull) {
        this.#decoderFull = true;
        this.#decoder.once('drain', () => {
          this.#decoderFull = false;
          this.#wake();
        });
      }
    } else {
      this.#push(chunk);
    }
    this.#paused = this.#decoderFull || this.#queuedBytes >= HIGH_WATER_BYTES;
    return !this.#paused;
  }

  /** @internal */
  complete(): void {
    if (this.#decoder) this.#decoder.end();
    else this.#end();
  }

  /** @internal A failure the reader sees after the chunks before it. */
  failed(err: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = this.signal.aborted ? this.signal.reason : err;
    this.#done();
    this.#decoder?.destroy();
    const waiting = this.#waiting;
    if (waiting && this.#chunks.length === 0) {
      this.#waiting = undefined;
      waiting.reject(this.#error);
    }
  }

  #push(chunk: Buffer): void {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ done: false, value: chunk });
      return;
    }
    this.#chunks.push(chunk);
    this.#queuedBytes += chunk.length;
    if (this.#decoder && this.#queuedBytes >= HIGH_WATER_BYTES) this.#decoder.pause();
  }

  /** The socket, paused for the reader or the decoder, reads on once neither holds it back. */
  #wake(): void {
    if (!this.#paused || this.#decoderFull || this.#queuedBytes >= HIGH_WATER_BYTES) return;
    this.#paused = false;
    this.#resume?.();
  }

  #end(): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#ended = true;
    this.#done();
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ done: true, value: undefined });
    }
  }

  /** Ours to stop (abort, the reader left): what is queued is dropped and the request aborted. */
  #fail(reason: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#chunks = [];
    this.#queuedBytes = 0;
    this.#abort?.(reason as Error);
    this.failed(reason);
  }

  #done(): void {
    this.signal.removeEventListener('abort', this);
  }
}

class StreamHandler implements Dispatcher.DispatchHandler {
  #started = false;

  constructor(
    private readonly body: ChunkStream,
    private readonly signal: AbortSignal,
    private readonly resolve: (response: StreamResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  onConnect(abort: (reason?: Error) => void): void {
    this.body.connected(abort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#started = true;
    this.body.started(resume, contentCoding(headerOf(rawHeaders, 'content-encoding')));
    this.resolve({ status: statusCode, headers: { get: (name) => headerOf(rawHeaders, name.toLowerCase()) }, body: this.body });
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.body.data(chunk);
  }

  onComplete(): void {
    this.body.complete();
  }

  onError(err: Error): void {
    if (this.#started) {
      this.body.failed(new TypeError('terminated', { cause: err }));
      return;
    }
    this.body.failed(err);
    if (this.signal.aborted) this.reject(this.signal.reason);
    else this.reject(new TypeError('fetch failed', { cause: err }));
  }
}
