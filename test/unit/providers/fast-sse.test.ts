import { _iterSSEMessages } from 'openai/core/streaming';
import { describe, expect, it } from 'vitest';
import { SseDecoder, type SseEvent } from '../../../src/providers/http/fast-sse.js';
import { UpstreamTooLargeError } from '../../../src/providers/http/too-large.js';

/** The decoder must give exactly the events the SDK's own SSE parser gives, whatever the chunking. */

async function sdkEvents(chunks: readonly Uint8Array[]): Promise<SseEvent[]> {
  const body = (async function* () {
    for (const chunk of chunks) yield chunk;
  })();
  const events: SseEvent[] = [];
  for await (const sse of _iterSSEMessages({ body } as unknown as Response, new AbortController()))
    events.push({ event: sse.event, data: sse.data });
  return events;
}

function decoded(chunks: readonly Uint8Array[], max?: number): SseEvent[] {
  const decoder = new SseDecoder(max);
  return chunks.flatMap((chunk) => [...decoder.push(chunk)]);
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

describe('SseDecoder', () => {
  for (const [name, text] of Object.entries(BODIES)) {
    it(`${name}: the SDK parser's events, whatever the chunking`, async () => {
      const bytes = new TextEncoder().encode(text);
      const chunkings: Uint8Array[][] = [
        [bytes],
        Array.from(bytes, (b) => Uint8Array.of(b)),
        split(bytes, 1),
        split(bytes, 7),
        split(bytes, 42),
      ];
      const expected = await sdkEvents([bytes]);
      for (const chunks of chunkings) {
        expect(await sdkEvents(chunks)).toEqual(expected);
        expect(decoded(chunks)).toEqual(expected);
      }
    });
  }

  // The one rule of our own: llama.cpp's server sends a failure as an `error:` line, which the SDK drops.
  it('reads an `error:` line as an error event, its value the data', () => {
    const text = 'data: {"a":1}\n\nerror: {"code":400,"message":"too long"}\n\ndata: [DONE]\n\n';
    for (const chunks of [[new TextEncoder().encode(text)], split(new TextEncoder().encode(text), 7)]) {
      expect(decoded(chunks)).toEqual([
        { event: null, data: '{"a":1}' },
        { event: 'error', data: '{"code":400,"message":"too long"}' },
        { event: null, data: '[DONE]' },
      ]);
    }
  });

  it('refuses an event over the limit, counting its lines and the unfinished one', () => {
    const line = `data: ${'x'.repeat(100)}\n`;
    // Many data lines and no blank line: the event only grows.
    expect(() => decoded([new TextEncoder().encode(line.repeat(20))], 1000)).toThrow(UpstreamTooLargeError);
    // One line that never ends, in small pieces.
    const decoder = new SseDecoder(1000);
    expect(() => {
      for (let i = 0; i < 20; i++) decoder.push(new TextEncoder().encode(`data: ${'y'.repeat(100)}`));
    }).toThrow(/stream event is over the limit of 1000 bytes/);
    // Events under the limit pass, however many.
    expect(decoded([new TextEncoder().encode(`${line}\n`.repeat(50))], 1000)).toHaveLength(50);
  });

  it('joins a long line once: linear in its length', () => {
    const piece = new TextEncoder().encode('z'.repeat(64 * 1024));
    const decoder = new SseDecoder();
    decoder.push(new TextEncoder().encode('data: '));
    const started = performance.now();
    for (let i = 0; i < 256; i++) decoder.push(piece); // 16 MiB in one line
    const [event] = decoder.push(new TextEncoder().encode('\n\n'));
    expect(event?.data.length).toBe(16 * 1024 * 1024);
    // A copy per chunk would move about 2 GiB here.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
