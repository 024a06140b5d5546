import { UpstreamTooLargeError } from './too-large.js';

/** One server-sent event: its `event` field (null when absent) and its data lines joined by "\n". */
export interface SseEvent {
  readonly event: string | null;
  readonly data: string;
}

const LF = 0x0a;
const CR = 0x0d;
const NO_EVENTS: readonly SseEvent[] = Object.freeze([]);

/**
 * An incremental SSE decoder: bytes in, whole events out, synchronously. The provider's own
 * generator feeds it each body chunk and yields what it returns, so a token crosses no
 * generator of ours between the socket and the provider (the openai SDK's parser puts three
 * nested async generators there and scans every byte in JavaScript).
 *
 * The wire rules are the SSE spec's and the SDK's (test/unit/fast-sse.test.ts compares the two
 * over many bodies and chunkings): lines end with LF, CRLF or CR; a blank line dispatches; fields
 * `event` and `data` (one leading space stripped, data lines joined with "\n"), comments and
 * other fields ignored but `error` (llama.cpp's server, see #field), read as an `error` event
 * whose data is its value; an event with neither data nor an event name is not dispatched; a
 * leading byte-order mark is dropped; an event not closed by a blank line is never dispatched.
 *
 * Bounded: one event (its lines so far plus the unfinished line) may hold at most `maxEventBytes`;
 * past that `push` throws UpstreamTooLargeError, so an upstream that never sends a blank line,
 * or one endless line, costs at most that much memory. Each chunk is scanned once by native
 * `indexOf`, and an unfinished line is joined once when it ends, so a long line costs linear
 * time, not a copy per chunk.
 */
export class SseDecoder {
  readonly #maxEventBytes: number;
  /** The unfinished line, as chunk slices (joined once, when its end arrives). */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** Bytes of the current event's finished lines. */
  #eventBytes = 0;
  #event: string | null = null;
  /** The event's data lines: the first alone (nearly every event has one), the rest only when there are more. */
  #data: string | undefined;
  #moreData: string[] | undefined;
  /** The last chunk ended in CR: a LF opening the next one belongs to that line end. */
  #afterCR = false;
  #first = true;

  constructor(maxEventBytes = Number.POSITIVE_INFINITY) {
    this.#maxEventBytes = maxEventBytes;
  }

  /** The events this chunk completes, in order (often none or one). */
  push(chunk: Uint8Array): readonly SseEvent[] {
    // An empty read completes nothing, and must not forget that the last one ended in CR.
    if (chunk.byteLength === 0) return NO_EVENTS;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let events: SseEvent[] | undefined;
    let start = 0;
    if (this.#afterCR) {
      this.#afterCR = false;
      if (bytes[0] === LF) start = 1;
    }
    const hasCR = bytes.indexOf(CR, start) >= 0;
    for (;;) {
      const end = hasCR ? lineEnd(bytes, start) : bytes.indexOf(LF, start);
      if (end < 0) break;
      const event = this.#line(bytes, start, end);
      if (event !== undefined) {
        events ??= [];
        events.push(event);
      }
      start = end + 1;
      if (bytes[end] === CR) {
        if (end + 1 === bytes.length) this.#afterCR = true;
        else if (bytes[end + 1] === LF) start += 1;
      }
    }
    if (start < bytes.length) {
      this.#partial.push(bytes.subarray(start));
      this.#partialBytes += bytes.length - start;
      this.#check();
    }
    return events ?? NO_EVENTS;
  }

  /** Handles one line (bytes[start, end) plus any unfinished part); returns a dispatched event. */
  #line(bytes: Buffer, start: number, end: number): SseEvent | undefined {
    let line = bytes;
    if (this.#partialBytes > 0 || this.#partial.length > 0) {
      this.#partial.push(bytes.subarray(start, end));
      line = Buffer.concat(this.#partial, this.#partialBytes + end - start);
      this.#partial = [];
      this.#partialBytes = 0;
      start = 0;
      end = line.length;
    }
    if (this.#first) {
      this.#first = false;
      if (end - start >= 3 && line[start] === 0xef && line[start + 1] === 0xbb && line[start + 2] === 0xbf) start += 3;
    }
    if (end === start) return this.#dispatch();
    this.#eventBytes += end - start + 1;
    this.#check();
    // Nearly every line is `data: ...`: its value is decoded straight from the bytes.
    if (
      end - start >= 6 &&
      line[start] === 0x64 /* d */ &&
      line[start + 1] === 0x61 /* a */ &&
      line[start + 2] === 0x74 /* t */ &&
      line[start + 3] === 0x61 /* a */ &&
      line[start + 4] === 0x3a /* : */ &&
      line[start + 5] === 0x20 /* space */
    ) {
      this.#addData(line.toString('utf8', start + 6, end));
    } else {
      this.#field(line.toString('utf8', start, end));
    }
    return undefined;
  }

  #field(text: string): void {
    if (text.charCodeAt(0) === 0x3a /* ":" comment */) return;
    const colon = text.indexOf(':');
    const name = colon < 0 ? text : text.slice(0, colon);
    if (name !== 'data' && name !== 'event' && name !== 'error') return;
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (name === 'data') this.#addData(value);
    else if (name === 'event') this.#event = value;
    else {
      // llama.cpp's server sends a failure after the headers as an `error:` line; dropped as the
      // spec says, its stream would only seem to end early.
      this.#event = 'error';
      this.#addData(value);
    }
  }

  #dispatch(): SseEvent | undefined {
    const event = this.#event;
    const first = this.#data;
    const more = this.#moreData;
    this.#event = null;
    this.#data = undefined;
    this.#moreData = undefined;
    this.#eventBytes = 0;
    if (first === undefined) return event === null || event === '' ? undefined : { event, data: '' };
    return { event, data: more === undefined ? first : `${first}\n${more.join('\n')}` };
  }

  #addData(value: string): void {
    if (this.#data === undefined) this.#data = value;
    else if (this.#moreData === undefined) this.#moreData = [value];
    else this.#moreData.push(value);
  }

  #check(): void {
    if (this.#eventBytes + this.#partialBytes > this.#maxEventBytes) {
      throw new UpstreamTooLargeError('event', this.#maxEventBytes);
    }
  }
}

/** The first CR or LF at or after `start`, or -1. */
function lineEnd(bytes: Buffer, start: number): number {
  const lf = bytes.indexOf(LF, start);
  const cr = bytes.indexOf(CR, start);
  if (lf < 0) return cr;
  if (cr < 0) return lf;
  return Math.min(lf, cr);
}

/**
 * A keep-alive some relays send as an event rather than as an SSE comment: data that is blank, or
 * a comment put in the data (`data: : keepalive`). An upstream's event data is a JSON object, so
 * one look at its first character clears nearly every event.
 */
export function isKeepAlive(data: string): boolean {
  const first = data.charCodeAt(0);
  if (first === 0x7b /* { */) return false;
  const text = data.trimStart();
  return text === '' || text.charCodeAt(0) === 0x3a /* : */;
}
