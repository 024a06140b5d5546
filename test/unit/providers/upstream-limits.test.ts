import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import { OpenAIProvider } from '../../../src/providers/openai/provider.js';
import type { Provider, ProviderRequest } from '../../../src/providers/types.js';
import { calmestMs } from '../../helpers/loop-delay.js';

/**
 * Upstreams that send too much: one huge JSON body, SSE data that never closes an event, one
 * endless SSE line. Each fails the attempt with UPSTREAM_MALFORMED_RESPONSE naming the limit,
 * the connection is closed (the upstream sees its response cut), and reading never holds the
 * event loop.
 */

const MiB = 1024 * 1024;
/** What each shape would send in all; the limits below stop the reading long before. */
const TOTAL = 48 * MiB;
const PIECE = 64 * 1024;

interface Served {
  /** Bytes the upstream managed to write before the client went away. */
  written: number;
  /** The client closed the connection before the response was complete. */
  cut: boolean;
}

let server: http.Server;
let base = '';
const served: Served[] = [];

/** Writes `piece()` until TOTAL bytes or the connection closes, honouring backpressure. */
function pump(res: http.ServerResponse, first: string, piece: () => string, last: string, record: Served): void {
  res.write(first);
  const write = (): void => {
    while (record.written < TOTAL && !res.destroyed) {
      const text = piece();
      record.written += text.length;
      if (!res.write(text)) {
        res.once('drain', write);
        return;
      }
    }
    if (!res.destroyed) res.end(last);
  };
  write();
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const model = (JSON.parse(body) as { model: string }).model;
      const record: Served = { written: 0, cut: false };
      served.push(record);
      res.on('close', () => {
        record.cut = !res.writableFinished;
      });
      if (model === 'huge-json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        pump(
          res,
          '{"choices":[{"index":0,"message":{"role":"assistant","content":"',
          () => 'x'.repeat(PIECE),
          '"},"finish_reason":"stop"}]}',
          record,
        );
      } else if (model === 'huge-json-announced') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(TOTAL + 100) });
        pump(res, '{"choices":[{"index":0,"message":{"role":"assistant","content":"', () => 'x'.repeat(PIECE), '"}}]}', record);
      } else if (model === 'endless-embedding') {
        res.writeHead(200, { 'content-type': 'application/json' });
        pump(res, '{"data":[{"object":"embedding","index":0,"embedding":[0.1', () => ', 0.1'.repeat(PIECE / 5), ']}]}', record);
      } else if (model === 'endless-embedding-error') {
        res.writeHead(500, { 'content-type': 'application/json' });
        pump(res, '{"error":{"message":"', () => 'z'.repeat(PIECE), '"}}', record);
      } else if (model === 'no-blank-line') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const line = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'never dispatched' } }] })}\n`;
        pump(res, '', () => line.repeat(Math.floor(PIECE / line.length)), '\n', record);
      } else if (model === 'one-long-line') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        pump(res, 'data: {"choices":[{"index":0,"delta":{"content":"', () => 'y'.repeat(PIECE), '"}}]}\n\n', record);
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const LIMITS = { maxBodyBytes: 2 * MiB, maxEventBytes: 1 * MiB };

function requestFor(model: string): ProviderRequest {
  return {
    upstreamModel: model,
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0,
    maxTokens: 10,
    signal: new AbortController().signal,
  };
}

/** The longest the event loop may be held while a limit is hit. */
const STALL_BOUND_MS = 250;

/**
 * Runs `work`, returning its error and the longest the event loop was held meanwhile: the least of
 * up to three runs (calmestMs), so that a busy machine's random stall is not taken for the reader's.
 */
async function measured(work: () => Promise<unknown>): Promise<{ error: unknown; longestStallMs: number }> {
  let error: unknown;
  const longestStallMs = await calmestMs(async () => {
    const run = await measuredOnce(work);
    error = run.error;
    return run.longestStallMs;
  }, STALL_BOUND_MS);
  return { error, longestStallMs };
}

async function measuredOnce(work: () => Promise<unknown>): Promise<{ error: unknown; longestStallMs: number }> {
  let longest = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 2);
  try {
    await work();
    return { error: undefined, longestStallMs: longest };
  } catch (error) {
    return { error, longestStallMs: longest };
  } finally {
    clearInterval(ticker);
  }
}

async function drain(provider: Provider, model: string): Promise<void> {
  for await (const _ of provider.stream(requestFor(model))) {
    // deltas are not expected: every shape here fails before one is complete
  }
}

function expectLimitError(error: unknown, setting: string): void {
  expect(error).toBeInstanceOf(OrchestratorError);
  const e = error as OrchestratorError;
  expect(e.reason).toBe('UPSTREAM_MALFORMED_RESPONSE');
  expect(e.kind).toBe('unavailable');
  expect(e.message).toContain(setting);
  expect(e.metadata).toMatchObject({ limit: setting });
}

async function expectCut(): Promise<void> {
  const record = served.at(-1)!;
  for (let i = 0; i < 100 && !record.cut; i++) await new Promise((r) => setTimeout(r, 20));
  expect(record.cut).toBe(true);
  // Reading stopped near the limit, not at the end of what the upstream had to send.
  expect(record.written).toBeLessThan(TOTAL / 2);
}

describe('upstream size limits', () => {
  let provider: OpenAIProvider;
  beforeAll(() => {
    provider = new OpenAIProvider({ ...LIMITS, name: 'fake', baseURL: `${base}/v1`, apiKey: 'k' });
  });
  afterAll(async () => {
    await provider.close();
  });

  it('a huge JSON body fails the attempt at UPSTREAM_MAX_BODY_BYTES and closes the connection', async () => {
    const { error, longestStallMs } = await measured(() => provider.complete(requestFor('huge-json')));
    expectLimitError(error, 'UPSTREAM_MAX_BODY_BYTES');
    await expectCut();
    expect(longestStallMs).toBeLessThan(STALL_BOUND_MS);
  });

  it('a body announced larger than the limit is refused before it is read', async () => {
    const { error } = await measured(() => provider.complete(requestFor('huge-json-announced')));
    expectLimitError(error, 'UPSTREAM_MAX_BODY_BYTES');
    await expectCut();
  });

  it('an embeddings answer may be as large as the vectors asked for, and no larger', async () => {
    // 64 inputs of 1,536 values may take more than the body limit as JSON; an endless vector still fails.
    const inputs = Array.from({ length: 64 }, () => 'hi');
    const request = { upstreamModel: 'endless-embedding', inputs, nativeDimensions: 1536, signal: new AbortController().signal };
    const { error } = await measured(() => provider.embed(request));
    expectLimitError(error, 'UPSTREAM_MAX_BODY_BYTES');
    await expectCut();
    expect(served.at(-1)!.written).toBeGreaterThan(LIMITS.maxBodyBytes);
  });

  it("an embeddings call's error body stays within UPSTREAM_MAX_BODY_BYTES, whatever the vectors asked for", async () => {
    // 256 inputs of 3,072 values may take some 38 MB as an answer; an error body may not.
    const inputs = Array.from({ length: 256 }, () => 'hi');
    const request = { upstreamModel: 'endless-embedding-error', inputs, nativeDimensions: 3072, signal: new AbortController().signal };
    const { error } = await measured(() => provider.embed(request));
    expect(error).toBeInstanceOf(OrchestratorError);
    await expectCut();
    expect(served.at(-1)!.written).toBeLessThan(6 * LIMITS.maxBodyBytes);
  });

  it('SSE data with no blank line fails at UPSTREAM_MAX_EVENT_BYTES and closes the connection', async () => {
    const { error, longestStallMs } = await measured(() => drain(provider, 'no-blank-line'));
    expectLimitError(error, 'UPSTREAM_MAX_EVENT_BYTES');
    await expectCut();
    expect(longestStallMs).toBeLessThan(STALL_BOUND_MS);
  });

  it('one multi-megabyte SSE line fails at UPSTREAM_MAX_EVENT_BYTES without holding the event loop', async () => {
    const { error, longestStallMs } = await measured(() => drain(provider, 'one-long-line'));
    expectLimitError(error, 'UPSTREAM_MAX_EVENT_BYTES');
    await expectCut();
    expect(longestStallMs).toBeLessThan(STALL_BOUND_MS);
  });

  it('the Anthropic provider has the same limits', async () => {
    const anthropic = new AnthropicProvider({ ...LIMITS, name: 'fake-anthropic', baseURL: base, apiKey: 'k' });
    // The fake serves its shapes on any path, the Messages API's included.
    const unary = await measured(() => anthropic.complete(requestFor('huge-json')));
    expectLimitError(unary.error, 'UPSTREAM_MAX_BODY_BYTES');
    await expectCut();
    const stream = await measured(() => drain(anthropic, 'one-long-line'));
    expectLimitError(stream.error, 'UPSTREAM_MAX_EVENT_BYTES');
    await expectCut();
    await anthropic.close();
  });
});
