import type { FastifyReply } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { CallContext, EngineStreamEvent } from '../../../src/engine/index.js';
import { ChunkEncoder, relayStream } from '../../../src/http/sse.js';
import { encodeAttempt } from '../../../src/http/errors.js';
import { deadlineExceeded } from '../../../src/domain/errors.js';

/** The delta line as a general serialiser would write the chunk object. */
function parsed(line: string): unknown {
  expect(line.startsWith('data: ')).toBe(true);
  expect(line.endsWith('\n\n')).toBe(true);
  return JSON.parse(line.slice('data: '.length));
}

const TEXTS = ['plain', 'say "hi"\\ back', 'two\nlines\ttab', 'sep\u2028par\u2029', 'emoji 🚀 and é', '\u0000\u001f', ''];

describe('SSE content deltas written from a prefix', () => {
  for (const includeUsage of [false, true]) {
    it(`equal the chunk object for any text and model name (include_usage ${includeUsage})`, () => {
      const model = 'odd "model"\\name';
      const encoder = new ChunkEncoder('req-"1"', includeUsage);
      const start = parsed(encoder.of({ type: 'started', model, provider: 'openai' })) as { created: number };
      for (const content of TEXTS) {
        expect(parsed(encoder.of({ type: 'delta', content }))).toEqual({
          id: 'req-"1"',
          object: 'chat.completion.chunk',
          created: start.created,
          model,
          choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
          ...(includeUsage ? { usage: null } : {}),
        });
      }
    });
  }

  for (const includeUsage of [false, true]) {
    it(`writes the start, last and usage chunks byte for byte as JSON.stringify of the chunk objects (include_usage ${includeUsage})`, () => {
      const model = 'odd "model"\\name';
      const encoder = new ChunkEncoder('req-"1"', includeUsage);
      const started = encoder.of({ type: 'started', model, provider: 'simulated "p"' });
      const head = { id: 'req-"1"', object: 'chat.completion.chunk', created: (parsed(started) as { created: number }).created, model };
      const usageNull = includeUsage ? { usage: null } : {};
      expect(started).toBe(
        `data: ${JSON.stringify({
          ...head,
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
          ...usageNull,
          x_orchestrator: { provider: 'simulated "p"', simulated: false },
        })}\n\n`,
      );
      const usage = { promptTokens: 3, completionTokens: 5, totalTokens: 8, cachedTokens: 1 };
      const attempt = {
        model,
        provider: 'p "q"',
        outcome: 'success' as const,
        latencyMs: 12.3456,
        usage,
        costUsd: 0.000123,
        retry: 0,
        backoffMs: 0,
      };
      const end = encoder.of({
        type: 'completed',
        model,
        provider: 'p "q"',
        finishReason: 'length',
        usage,
        costUsd: 0.000123,
        latencyMs: 15.67891,
        timeToFirstTokenMs: 3.0004,
        attempts: [attempt],
        fallbackTriggered: true,
        decision: undefined,
      });
      const lines = end.split('\n\n').filter((l) => l !== '');
      expect(lines.length).toBe(includeUsage ? 2 : 1);
      expect(`${lines[0]}\n\n`).toBe(
        `data: ${JSON.stringify({
          ...head,
          choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }],
          ...usageNull,
          x_orchestrator: {
            provider: 'p "q"',
            simulated: false,
            cost_usd: 0.000123,
            latency_ms: 15.679,
            time_to_first_token_ms: 3,
            attempts: [encodeAttempt(attempt)],
            fallback_triggered: true,
            cache: null,
            route_decision: null,
          },
        })}\n\n`,
      );
      if (includeUsage) {
        const wire = {
          prompt_tokens: 3,
          completion_tokens: 5,
          total_tokens: 8,
          prompt_tokens_details: { cached_tokens: 1, cache_write_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0 },
        };
        expect(`${lines[1]}\n\n`).toBe(`data: ${JSON.stringify({ ...head, choices: [], usage: wire })}\n\n`);
      }
    });
  }

  it('names the new model after a restart moves the stream to another one', () => {
    const encoder = new ChunkEncoder('r', false);
    encoder.of({ type: 'started', model: 'first', provider: 'openai' });
    expect((parsed(encoder.of({ type: 'delta', content: 'a' })) as { model: string }).model).toBe('first');
    encoder.of({ type: 'started', model: 'second', provider: 'openai' });
    expect((parsed(encoder.of({ type: 'delta', content: 'b' })) as { model: string }).model).toBe('second');
  });
});

/** A reply whose socket side records what is written, and in how many writes. */
function recordingReply(): { reply: FastifyReply; writes: string[]; ended: string[] } {
  const writes: string[] = [];
  const ended: string[] = [];
  const raw = {
    headersSent: false,
    destroyed: false,
    writableEnded: false,
    writeHead() {
      raw.headersSent = true;
      return raw;
    },
    write(text: string) {
      writes.push(text);
      return true;
    },
    end(text: string) {
      ended.push(text);
      raw.writableEnded = true;
    },
    on: () => raw,
    removeListener: () => raw,
  };
  return { reply: { raw, hijack() {} } as unknown as FastifyReply, writes, ended };
}

const ctx = { signal: new AbortController().signal, requestId: 'r1' } as unknown as CallContext;

/** As the engine hands a stream out: the events of each upstream read in one group, `started` with the first. */
async function* events(reads: number): AsyncGenerator<readonly EngineStreamEvent[]> {
  for (let g = 0; g < reads; g++) {
    // A later upstream read: a turn of the event loop between groups.
    if (g > 0) await new Promise((resolve) => setTimeout(resolve, 2));
    const read: EngineStreamEvent[] = [
      { type: 'delta', content: `a${g}` },
      { type: 'delta', content: `b${g}` },
    ];
    yield g === 0 ? [{ type: 'started', model: 'm', provider: 'openai' }, ...read] : read;
  }
  await new Promise((resolve) => setTimeout(resolve, 2));
}

describe('SSE writes', () => {
  it('events of one upstream read go out in one write, and the end in the last one', async () => {
    const { reply, writes, ended } = recordingReply();
    await relayStream(reply, ctx, events(2), false);
    expect(writes).toHaveLength(2);
    expect(writes.map((w) => w.split('\n\n').length - 1)).toEqual([3, 2]);
    expect(ended).toEqual(['data: [DONE]\n\n']);
  });

  it('a stream whose end follows its events in the same turn (an upstream body ends a tick after its last read) is one write with its end', async () => {
    const { reply, writes, ended } = recordingReply();
    async function* instant(): AsyncGenerator<readonly EngineStreamEvent[]> {
      yield [
        { type: 'started', model: 'm', provider: 'openai' },
        { type: 'delta', content: 'x' },
      ];
      // A Readable announces its end on process.nextTick.
      await new Promise((resolve) => process.nextTick(resolve));
    }
    await relayStream(reply, ctx, instant(), false);
    expect(writes).toEqual([]);
    expect(ended).toHaveLength(1);
    expect(ended[0]!.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(ended[0]!.split('\n\n').length - 1).toBe(3);
  });
});

describe('SSE to a client whose socket takes nothing more', () => {
  it('stops taking events from the engine once what waits for the socket passes its buffer, even when they come without a wait', async () => {
    const writes: string[] = [];
    const raw = {
      headersSent: false,
      destroyed: false,
      writableEnded: false,
      writableHighWaterMark: 16 * 1024,
      writeHead() {
        raw.headersSent = true;
        return raw;
      },
      // The socket is full and stays full: 'drain' never comes.
      write(text: string) {
        writes.push(text);
        return false;
      },
      end() {},
      on: () => raw,
      removeListener: () => raw,
    };
    const reply = { raw, hijack() {} } as unknown as FastifyReply;
    const controller = new AbortController();
    let pulled = 0;
    // An upstream body with megabytes already read: each group ready at once, in microtasks (as
    // the reads of one poll of the socket reach the relay before the event loop turns).
    async function* buffered(): AsyncGenerator<readonly EngineStreamEvent[]> {
      yield [{ type: 'started', model: 'm', provider: 'openai' }];
      for (; pulled < 2_000; pulled++) yield [{ type: 'delta', content: 'x'.repeat(1_000) }];
    }
    const relay = relayStream(reply, { signal: controller.signal, requestId: 'r1' } as unknown as CallContext, buffered(), false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const held = writes.reduce((n, w) => n + w.length, 0);
    // The client went away: its connection is closed, and the call aborted.
    raw.destroyed = true;
    controller.abort(new Error('the client went away'));
    await relay;
    // About the socket's buffer (16 KiB) plus a group, not the megabytes the engine had ready.
    expect(pulled).toBeLessThan(100);
    expect(held).toBeLessThan(128 * 1024);
  });
});

describe('SSE to a client that stopped reading when the deadline passes', () => {
  it("ends with the engine's own error, its attempts included, not the bare deadline", async () => {
    const ended: string[] = [];
    const raw = {
      headersSent: false,
      destroyed: false,
      writableEnded: false,
      writableLength: 0,
      writableHighWaterMark: 16,
      writeHead() {
        raw.headersSent = true;
        return raw;
      },
      // The socket is full and stays full: 'drain' never comes.
      write: () => false,
      end(text: string) {
        ended.push(text);
        raw.writableEnded = true;
      },
      setTimeout: () => raw,
      on: () => raw,
      removeListener: () => raw,
    };
    const reply = { raw, hijack() {} } as unknown as FastifyReply;
    const controller = new AbortController();
    const attempt = {
      model: 'm',
      provider: 'openai',
      outcome: 'timeout' as const,
      latencyMs: 5,
      usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5, cachedTokens: 0 },
      costUsd: 0.00001,
      retry: 0,
      backoffMs: 0,
    };
    // As the engine's stream does: on the call's abort it ends with an error that lists its attempts.
    async function* cut(): AsyncGenerator<readonly EngineStreamEvent[]> {
      yield [
        { type: 'started', model: 'm', provider: 'openai' },
        { type: 'delta', content: 'x'.repeat(64) },
      ];
      if (!controller.signal.aborted) await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
      throw deadlineExceeded('the call deadline passed').withAttempts([attempt]);
    }
    const relay = relayStream(reply, { signal: controller.signal, requestId: 'r1' } as unknown as CallContext, cut(), false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(deadlineExceeded('the call deadline passed'));
    await relay;
    const last = ended.join('');
    expect(last).toContain('event: error');
    const error = JSON.parse(last.slice(last.indexOf('event: error\ndata: ') + 'event: error\ndata: '.length)) as {
      error: { attempts?: unknown[]; reason: string };
    };
    expect(error.error.reason).toBe('DEADLINE_EXCEEDED');
    expect(error.error.attempts).toEqual([encodeAttempt(attempt)]);
  });
});
