import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigFile } from '../helpers/config-file.js';
import { collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** 400 characters of thinking, 100 tokens at four a token, which the upstream bills as output. */
const THOUGHT = 'Let me think. '.repeat(30).slice(0, 400);
const PIECES = 8;

const anthropicEvent = (data: { type: string }) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
const chunk = (delta: object) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;

/** An upstream that thinks, the thinking streamed but not relayed, then loses the connection before any answer text. */
function thinkThenCut(anthropic: boolean, res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const piece = THOUGHT.slice(0, THOUGHT.length / PIECES);
  if (anthropic) {
    const message = { id: 'm', type: 'message', role: 'assistant', content: [], model: 'm', usage: { input_tokens: 5, output_tokens: 1 } };
    res.write(anthropicEvent({ type: 'message_start', message } as { type: string }));
    res.write(
      anthropicEvent({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } } as { type: string }),
    );
  }
  for (let i = 0; i < PIECES; i++) {
    res.write(
      anthropic
        ? anthropicEvent({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: piece } } as { type: string })
        : chunk({ reasoning_content: piece }),
    );
  }
  setTimeout(() => res.destroy(), 50);
}

describe('a stream cut while the model thinks', () => {
  let h: Harness;
  let server: http.Server;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => thinkThenCut(req.url?.endsWith('/messages') === true, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = writeConfigFile(`providers:
  - { name: oa, kind: openai, base_url: "${origin}/v1", api_key_env: UP_KEY }
  - { name: an, kind: anthropic, base_url: "${origin}", api_key_env: UP_KEY }
include_builtin_models: false
models:
  - { id: think-oa, provider: oa, upstream_id: "m", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: t, tier: small, quality: 0.5 }
  - { id: think-an, provider: an, upstream_id: "m", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: t, tier: small, quality: 0.5 }
`);
    h = await startHarness({ noOpenAiShorthand: true, env: { CONFIG_FILE: file, DEFAULT_MODEL: 'think-oa' }, processEnv: { UP_KEY: 'k' } });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it('is charged the thinking the upstream streamed as completion tokens, OpenAI-compatible and Anthropic', async () => {
    for (const model of ['think-oa', 'think-an']) {
      const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model, prompt: 'Why is the sky blue?' })));
      expect(streamed.error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
      const metadata = streamed.error?.decoded.errorInfo?.metadata ?? {};
      expect(Number(metadata['completion_tokens']), model).toBe(THOUGHT.length / 4);
    }
  });
});
