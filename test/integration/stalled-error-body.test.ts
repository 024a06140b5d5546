import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigFile } from '../helpers/config-file.js';
import { StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { answerBody } from '../helpers/upstream-bodies.js';

/**
 * An upstream (OpenAI-compatible at /v1, the Messages API at /v1/messages) that, for the
 * upstream model "stall", answers 503 with Retry-After and the start of an error body, then
 * never sends the rest; any other model gets a normal answer. The call fails with the 503's
 * reason long before its deadline, the stalled connection is closed, and a Fallback goes on.
 */
const DEADLINE_MS = 6_000;

const answer = (anthropic: boolean, stream: boolean): string =>
  answerBody(anthropic, stream, { model: 'ok', content: 'fine', deltas: ['fine'], outputTokens: 1 });

describe('an upstream error status whose body never finishes', () => {
  let server: http.Server;
  let h: Harness;
  let stalled = 0;
  let closed = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; stream?: boolean };
        if (request.model === 'stall') {
          stalled++;
          res.on('close', () => closed++);
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7' });
          res.write('{"error":{"type":"overloaded_error","message":"');
          return;
        }
        res.writeHead(200, { 'content-type': request.stream ? 'text/event-stream' : 'application/json' });
        res.end(answer(req.url?.endsWith('/messages') === true, request.stream === true));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const model = (id: string, provider: string, upstream: string) =>
      `  - { id: ${id}, provider: ${provider}, upstream_id: "${upstream}", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: ${provider}, tier: small, quality: 0.5 }\n`;
    const file = writeConfigFile(`providers:
  - { name: oa, kind: openai, base_url: "${origin}/v1", api_key_env: UP_KEY }
  - { name: an, kind: anthropic, base_url: "${origin}", api_key_env: UP_KEY }
include_builtin_models: false
models:
${model('oa-stall', 'oa', 'stall')}${model('oa-ok', 'oa', 'ok')}${model('an-stall', 'an', 'stall')}${model('an-ok', 'an', 'ok')}`);
    h = await startHarness({ noOpenAiShorthand: true, env: { CONFIG_FILE: file, DEFAULT_MODEL: 'oa-ok' }, processEnv: { UP_KEY: 'k' } });
  });
  afterAll(async () => {
    await h?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  async function connectionsClosed(): Promise<void> {
    for (let i = 0; i < 100 && closed < stalled; i++) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(stalled);
  }

  for (const provider of ['oa', 'an']) {
    const stall = `${provider}-stall`;
    const ok = `${provider}-ok`;

    it(`${provider}: Chat fails as the 503 (Retry-After kept), long before the deadline, and the connection is closed`, async () => {
      const started = performance.now();
      const err = await unaryError(
        h.clients.chat.chat.bind(h.clients.chat),
        { model: stall, prompt: 'hi', messages: [] },
        { deadlineMs: DEADLINE_MS },
      );
      expect(performance.now() - started).toBeLessThan(DEADLINE_MS / 2);
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_ERROR');
      expect(err.decoded.retryInfo?.retryDelay?.seconds).toBe(7);
      await connectionsClosed();
    });

    it(`${provider}: StreamChat fails as the 503, long before the deadline`, async () => {
      const started = performance.now();
      const call = h.clients.chat.streamChat(streamRequest({ model: stall, prompt: 'hi' }), { deadline: Date.now() + DEADLINE_MS });
      const { error } = await collectStream(call);
      expect(performance.now() - started).toBeLessThan(DEADLINE_MS / 2);
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(error?.decoded.errorInfo?.reason).toBe('UPSTREAM_ERROR');
      await connectionsClosed();
    });

    it(`${provider}: a Fallback goes on to the healthy model, unary and streamed, long before the deadline`, async () => {
      const started = performance.now();
      const { response } = await callUnary(
        h.clients.chat.fallback.bind(h.clients.chat),
        { model: '', prompt: 'hi', messages: [], models: [stall, ok], disableDefaultMessage: true },
        { deadlineMs: DEADLINE_MS },
      );
      expect(response.content).toBe('fine');
      expect(response.model).toBe(ok);
      const call = h.clients.chat.streamChat(
        streamRequest({ prompt: 'hi', models: [stall, ok], strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK }),
        { deadline: Date.now() + DEADLINE_MS },
      );
      const streamed = await collectStream(call);
      expect(streamed.error).toBeUndefined();
      expect(streamed.messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('')).toBe('fine');
      expect(performance.now() - started).toBeLessThan(DEADLINE_MS);
      await connectionsClosed();
    });
  }
}, 60_000);
