import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { FinishReason } from '../../src/gen/orchestrator/v1/common.js';
import { writeConfigFile } from './config-file.js';
import { collectStream, streamRequest } from './grpc-client.js';
import { startHarness, type Harness } from './harness.js';

/** What a thinking upstream streams, in its wire's own events. */
export interface ThinkingWire {
  /** Written at once: the stream's first events, before any thinking. */
  readonly opening: string;
  /** The nth piece of thinking (from 1). */
  piece(n: number): string;
  /** The answer's text, 'The answer.', and the stream's end. */
  readonly answer: string;
}

export interface ThinkingGateway {
  readonly h: Harness;
  close(): Promise<void>;
}

/**
 * A gateway whose one model, think-chat, is served through a provider of `kind` by an upstream that
 * thinks for 3 s, a piece every 150 ms, before it answers: never silent for long, though it sends
 * no answer text until the end. Its stall windows are 1 s, so only its thinking keeps it alive.
 */
export async function startThinkingGateway(kind: 'openai' | 'anthropic', wire: ThinkingWire): Promise<ThinkingGateway> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(wire.opening);
      let sent = 0;
      const timer = setInterval(() => {
        sent++;
        res.write(wire.piece(sent));
        if (sent < 20) return;
        clearInterval(timer);
        res.end(wire.answer);
      }, 150);
      res.on('close', () => clearInterval(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The Messages API's SDK appends /v1 itself.
  const baseUrl = kind === 'openai' ? `${origin}/v1` : origin;
  const file = writeConfigFile(`providers:
  - { name: thinker, kind: ${kind}, base_url: "${baseUrl}", api_key_env: THINKER_KEY }
include_builtin_models: false
models:
  - { id: think-chat, provider: thinker, upstream_id: "think-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: l, tier: small, quality: 0.5 }
`);
  let h: Harness;
  try {
    h = await startHarness({
      noOpenAiShorthand: true,
      env: { CONFIG_FILE: file, DEFAULT_MODEL: 'think-chat', STREAM_FIRST_TOKEN_TIMEOUT_MS: '1000', STREAM_INTER_TOKEN_TIMEOUT_MS: '1000' },
      processEnv: { THINKER_KEY: 'k' },
    });
  } catch (err) {
    await closeServer();
    throw err;
  }
  return {
    h,
    async close() {
      await h.close();
      await closeServer();
    },
  };
}

/** Streams a prompt to think-chat: the answer must complete (STOP) with its whole text, not stall. */
export async function expectAnswerAfterThinking(h: Harness): Promise<void> {
  const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'think-chat', prompt: 'hi' })));
  expect(streamed.error).toBeUndefined();
  const last = streamed.messages.at(-1)?.event;
  if (last?.$case !== 'completed') throw new Error('no completed event');
  expect(last.completed.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
  const text = streamed.messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');
  expect(text).toBe('The answer.');
}
