import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../../src/providers/types.js';

/**
 * xAI counts a reasoning model's thinking apart from completion_tokens (OpenAI counts it within):
 * its total_tokens is prompt + completion + reasoning. `usage` is what the server reports.
 */
let usage: object = {};
let server: http.Server;
let baseURL = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const head = { id: 'c', created: 1, model: 'grok' };
      if (!(JSON.parse(raw) as { stream?: boolean }).stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const choices = [{ index: 0, message: { role: 'assistant', content: 'Paris.' }, finish_reason: 'stop' }];
        res.end(JSON.stringify({ ...head, object: 'chat.completion', choices, usage }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (body: object) => `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...body })}\n\n`;
      res.end(
        chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Paris.' }, finish_reason: null }] }) +
          chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
          chunk({ choices: [], usage }) +
          'data: [DONE]\n\n',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const request = (): ProviderRequest => ({
  upstreamModel: 'grok',
  messages: [{ role: 'user', content: 'Name the capital of France.' }],
  temperature: 0,
  maxTokens: 1000,
  signal: new AbortController().signal,
});

async function both(): Promise<unknown[]> {
  const provider = new OpenAIProvider({ name: 'xai', baseURL, apiKey: 'k' });
  const unary = await provider.complete(request());
  let end: ProviderStreamEvent | undefined;
  for await (const event of provider.stream(request())) end = event;
  return [unary.usage, end?.type === 'end' ? end.usage : undefined];
}

describe('usage whose reasoning tokens are counted apart from completion_tokens (xAI)', () => {
  it('charges the reasoning as completion tokens, as the total the upstream reported does, unary and streamed', async () => {
    usage = { prompt_tokens: 32, completion_tokens: 9, total_tokens: 326, completion_tokens_details: { reasoning_tokens: 285 } };
    const expected = { promptTokens: 32, completionTokens: 294, totalTokens: 326, cachedTokens: 0, reasoningTokens: 285 };
    expect(await both()).toEqual([expected, expected]);
  });

  it('leaves OpenAI’s counts, whose completion_tokens hold the reasoning, as they are', async () => {
    usage = { prompt_tokens: 32, completion_tokens: 294, total_tokens: 326, completion_tokens_details: { reasoning_tokens: 285 } };
    const expected = { promptTokens: 32, completionTokens: 294, totalTokens: 326, cachedTokens: 0, reasoningTokens: 285 };
    expect(await both()).toEqual([expected, expected]);
  });
});
