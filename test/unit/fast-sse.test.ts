import { Stream } from 'openai/core/streaming';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FastStream } from '../../src/providers/transport/fast-sse.js';

/** FastStream must yield exactly what the SDK's Stream yields (or throw the same error). */

type Outcome = { items: unknown[]; error?: string };

async function run(kind: typeof Stream, chunks: readonly Uint8Array[], web: boolean, synthesize = false): Promise<Outcome & { aborted: boolean }> {
  const controller = new AbortController();
  const body = web
    ? new ReadableStream<Uint8Array>({
        start(c) {
          for (const chunk of chunks) c.enqueue(chunk);
          c.close();
        },
      })
    : (async function* () {
        for (const chunk of chunks) yield chunk;
      })();
  const response = { body, headers: new Headers({ 'x-request-id': 'req_1' }) } as unknown as Response;
  const items: unknown[] = [];
  try {
    for await (const item of kind.fromSSEResponse(response, controller, undefined, synthesize)) items.push(item);
    return { items, aborted: controller.signal.aborted };
  } catch (err) {
    const e = err as Error & { status?: unknown; error?: unknown };
    return { items, error: `${e.constructor.name}: ${e.message} ${JSON.stringify(e.error ?? null)}`, aborted: controller.signal.aborted };
  }
}

/** Deterministic pseudo-random splits. */
function split(bytes: Uint8Array, seed: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let x = seed;
  let at = 0;
  while (at < bytes.length) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (x % 40);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

const chunk = (delta: string, extra = ''): string =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(delta)}}${extra}}]}\n\n`;

const BODIES: Record<string, string> = {
  openai:
    'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n' +
    chunk('Hel') +
    chunk('lo, wörld 👋 — ünïcödé') +
    'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
    'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n' +
    'data: [DONE]\n\n',
  fields:
    ': a comment\n' +
    'event: message\nid: 7\nretry: 100\ndata: {"a":1}\n\n' +
    'data:{"nospace":true}\n\n' +
    'data: {"multi":\ndata: "line"}\n\n' +
    'event:\ndata: {"emptyEvent":true}\n\n' +
    'field-without-colon\ndata: {"b":2}\n\n' +
    '\n\n\n' +
    'data: {"c":3}\n\n',
  bom: '\uFEFFdata: {"bom":1}\n\n' + 'data: {"after":2}\n\n',
  unterminated: chunk('a') + 'data: {"never":"dispatched"}\n',
  midLine: chunk('a') + 'data: {"cut',
  afterDone: chunk('a') + 'data: [DONE]\n\n' + chunk('ignored') + 'data: not json\n\n',
  doneVariant: chunk('a') + 'data: [DONE] trailing\n\n' + chunk('ignored'),
  error: chunk('a') + 'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n' + chunk('b'),
  threadEvents: 'event: thread.run.created\ndata: {"id":"run_1"}\n\n' + 'event: thread.message.delta\ndata: {"d":1}\n\n',
  threadError: 'event: thread.run.created\ndata: {"id":"run_1"}\n\nevent: error\ndata: {"message":"boom","error":{"x":1}}\n\n',
  badJson: chunk('a') + 'data: {not json\n\n',
  eventOnly: 'event: ping\n\n' + chunk('a'),
  crlf: chunk('a').replaceAll('\n', '\r\n') + chunk('b').replaceAll('\n', '\r\n') + 'data: [DONE]\r\n\r\n',
  crOnly: chunk('a').replaceAll('\n', '\r') + chunk('b').replaceAll('\n', '\r'),
  crLater: chunk('a') + chunk('b') + 'data: {"x":\r\n' + 'data: 1}\r\n\r\n' + chunk('c'),
  crInEvent: 'data: {"y":\n' + 'data: 2}\r\n\r\n' + chunk('d'),
  empty: '',
};

describe('FastStream matches the SDK Stream', () => {
  // Without a client both streams report unparsable events on console.error before throwing.
  beforeEach(() => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  for (const [name, text] of Object.entries(BODIES)) {
    it(`${name}: same items and errors, whatever the chunking`, async () => {
      const bytes = new TextEncoder().encode(text);
      const chunkings: Uint8Array[][] = [[bytes], Array.from(bytes, (b) => Uint8Array.of(b)), split(bytes, 1), split(bytes, 7), split(bytes, 42)];
      for (const chunks of chunkings) {
        for (const web of [false, true]) {
          for (const synthesize of [false, true]) {
            const expected = await run(Stream, chunks, web, synthesize);
            const actual = await run(FastStream, chunks, web, synthesize);
            expect(actual).toEqual(expected);
          }
        }
      }
    });
  }

  it('aborts the request when the consumer stops early, like the SDK', async () => {
    for (const kind of [Stream, FastStream] as const) {
      const controller = new AbortController();
      let closed = false;
      const body = (async function* () {
        try {
          for (let i = 0; i < 100; i++) yield new TextEncoder().encode(chunk(`t${i}`));
        } finally {
          closed = true;
        }
      })();
      const stream = kind.fromSSEResponse({ body, headers: new Headers() } as unknown as Response, controller);
      for await (const _ of stream) break;
      expect(controller.signal.aborted).toBe(true);
      expect(closed).toBe(true);
    }
  });

  it('ends silently on an abort error from the body, like the SDK', async () => {
    for (const kind of [Stream, FastStream] as const) {
      const controller = new AbortController();
      const body = (async function* () {
        yield new TextEncoder().encode(chunk('a'));
        throw new DOMException('This operation was aborted', 'AbortError');
      })();
      const items: unknown[] = [];
      for await (const item of kind.fromSSEResponse({ body, headers: new Headers() } as unknown as Response, controller)) items.push(item);
      expect(items).toHaveLength(1);
    }
  });
});
