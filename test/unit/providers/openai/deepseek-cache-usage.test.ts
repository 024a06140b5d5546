import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderRequest, ProviderStreamEvent } from '../../../../src/providers/types.js';

/**
 * DeepSeek names the prompt tokens read from its context cache prompt_cache_hit_tokens, beside prompt_tokens
 * (which holds them), rather than OpenAI's prompt_tokens_details.cached_tokens. `usage` is what it reports.
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
      const head = { id: 'c', created: 1, model: 'deepseek-chat' };
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
  upstreamModel: 'deepseek-chat',
  messages: [{ role: 'user', content: 'Name the capital of France.' }],
  temperature: 0,
  maxTokens: 1000,
  signal: new AbortController().signal,
});

async function both(): Promise<unknown[]> {
  const provider = new OpenAIProvider({ name: 'deepseek', baseURL, apiKey: 'k' });
  const unary = await provider.complete(request());
  let end: ProviderStreamEvent | undefined;
  for await (const event of provider.stream(request())) end = event;
  return [unary.usage, end?.type === 'end' ? end.usage : undefined];
}

describe("usage that names its cache hits DeepSeek's way", () => {
  it('has them as cached prompt tokens, priced at the cached rate, unary and streamed', async () => {
    usage = { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 };
    const expected = { promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedTokens: 64 };
    expect(await both()).toEqual([expected, expected]);
  });

  it('takes prompt_tokens_details.cached_tokens when both are there', async () => {
    usage = {
      prompt_tokens: 100,
      completion_tokens: 5,
      total_tokens: 105,
      prompt_cache_hit_tokens: 64,
      prompt_tokens_details: { cached_tokens: 64 },
    };
    const expected = { promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedTokens: 64 };
    expect(await both()).toEqual([expected, expected]);
  });
});
