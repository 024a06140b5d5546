import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FinishReason } from '../../src/gen/orchestrator/v1/common.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A model behind the Messages API that thinks before it answers (Anthropic-compatible servers
 * stream thinking blocks by default for their reasoning models): thinking_delta events come long
 * before the first text_delta.
 */
describe('an Anthropic-compatible model that thinks longer than the first-token timeout', () => {
  let server: http.Server;
  let h: Harness;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const event = (data: { type: string }) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
        const message = {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          content: [],
          model: 'think-1',
          usage: { input_tokens: 5, output_tokens: 1 },
        };
        res.write(event({ type: 'message_start', message } as { type: string }));
        res.write(event({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } } as { type: string }));
        let sent = 0;
        // Thinking for 3 s, a piece every 150 ms: never silent for long, though no answer text yet.
        const timer = setInterval(() => {
          sent++;
          res.write(
            event({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm ' } } as { type: string }),
          );
          if (sent < 20) return;
          clearInterval(timer);
          res.end(
            [
              { type: 'content_block_stop', index: 0 },
              { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
              { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'The answer.' } },
              { type: 'content_block_stop', index: 1 },
              { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30 } },
              { type: 'message_stop' },
            ]
              .map(event)
              .join(''),
          );
        }, 150);
        res.on('close', () => clearInterval(timer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const file = writeConfigFile(`providers:
  - { name: claude-like, kind: anthropic, base_url: "http://127.0.0.1:${(server.address() as AddressInfo).port}", api_key_env: CLAUDE_LIKE_KEY }
include_builtin_models: false
models:
  - { id: think-chat, provider: claude-like, upstream_id: "think-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: l, tier: small, quality: 0.5 }
`);
    h = await startHarness({
      noOpenAiShorthand: true,
      env: { CONFIG_FILE: file, DEFAULT_MODEL: 'think-chat', STREAM_FIRST_TOKEN_TIMEOUT_MS: '1000', STREAM_INTER_TOKEN_TIMEOUT_MS: '1000' },
      processEnv: { CLAUDE_LIKE_KEY: 'k' },
    });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it('is not given up as stalled: its thinking is progress, and the answer streams', async () => {
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'think-chat', prompt: 'hi' })));
    expect(streamed.error).toBeUndefined();
    const last = streamed.messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event');
    expect(last.completed.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
    const text = streamed.messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');
    expect(text).toBe('The answer.');
  }, 20_000);
});
