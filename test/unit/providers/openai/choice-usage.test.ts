import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderStreamEvent } from '../../../../src/providers/types.js';

/** Moonshot (Kimi) streams its usage inside the last chunk's choice, beside the finish reason, not at the chunk's top level. */
let server: http.Server;
let baseURL = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const head = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'kimi' };
      const chunk = (choice: object) => `data: ${JSON.stringify({ ...head, choices: [{ index: 0, ...choice }] })}\n\n`;
      res.end(
        chunk({ delta: { role: 'assistant', content: 'Paris.' }, finish_reason: null }) +
          chunk({ delta: {}, finish_reason: 'stop', usage: { prompt_tokens: 19, completion_tokens: 3, total_tokens: 22 } }) +
          'data: [DONE]\n\n',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("an OpenAI-compatible stream whose usage comes in the last chunk's choice (Moonshot)", () => {
  it('ends with that usage, not an estimate', async () => {
    const provider = new OpenAIProvider({ name: 'moonshot', baseURL, apiKey: 'k' });
    let end: ProviderStreamEvent | undefined;
    for await (const event of provider.stream({
      upstreamModel: 'kimi',
      messages: [{ role: 'user', content: 'Name the capital of France.' }],
      temperature: 0,
      maxTokens: 100,
      signal: new AbortController().signal,
    })) {
      end = event;
    }
    expect(end).toEqual({
      type: 'end',
      finishReason: 'stop',
      usage: { promptTokens: 19, completionTokens: 3, totalTokens: 22, cachedTokens: 0 },
    });
  });
});
