import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderStreamEvent } from '../../../../src/providers/types.js';

/**
 * An OpenAI-compatible server that streams without a usage chunk (many local servers do): the
 * provider estimates completion tokens from what it relayed, about four characters a token.
 */
const PIECES = ['Hello', ', streaming ', 'world', '!'];
let server: http.Server;
let baseURL = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: object, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      for (const piece of PIECES) res.write(chunk({ content: piece }, null));
      res.write(
        chunk({ tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] }, null),
      );
      res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('an OpenAI stream without a usage chunk', () => {
  it('ends with completion tokens estimated from the characters relayed, tool calls included', async () => {
    const provider = new OpenAIProvider({ name: 'local', baseURL, apiKey: 'k' });
    const events: ProviderStreamEvent[] = [];
    for await (const event of provider.stream({
      upstreamModel: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0,
      maxTokens: 100,
      signal: new AbortController().signal,
    })) {
      events.push(event);
    }
    const end = events.at(-1);
    if (end?.type !== 'end') throw new Error('no end event');
    const characters = PIECES.join('').length + 'lookup'.length + '{"q":"x"}'.length;
    expect(end.usage.completionTokens).toBe(Math.ceil(characters / 4));
    expect(end.usage.totalTokens).toBe(end.usage.promptTokens + end.usage.completionTokens);
    expect(end.usageEstimated).toBe(true);
  });

  it("counts a reasoning model's thinking, which the upstream bills as completion tokens, unary and streamed", async () => {
    const thinking = 'Let me think this through. '.repeat(20);
    const local = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const head = { id: 'c', created: 1, model: 'm' };
        if (!(JSON.parse(raw) as { stream?: boolean }).stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          const message = { role: 'assistant', content: 'Yes.', reasoning_content: thinking };
          res.end(JSON.stringify({ ...head, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }] }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta: object, finish: string | null) =>
          `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.end(`${chunk({ reasoning: thinking }, null)}${chunk({ content: 'Yes.' }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`);
      });
    });
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    try {
      const provider = new OpenAIProvider({
        name: 'local',
        baseURL: `http://127.0.0.1:${(local.address() as AddressInfo).port}/v1`,
        apiKey: 'k',
      });
      const request = { upstreamModel: 'm', messages: [{ role: 'user' as const, content: 'hi' }], temperature: 0, maxTokens: 1000 };
      const expected = Math.ceil((thinking.length + 'Yes.'.length) / 4);
      const unary = await provider.complete({ ...request, signal: new AbortController().signal });
      expect([unary.usage.completionTokens, unary.usageEstimated]).toEqual([expected, true]);
      const events: ProviderStreamEvent[] = [];
      for await (const event of provider.stream({ ...request, signal: new AbortController().signal })) events.push(event);
      const end = events.at(-1);
      expect(end?.type === 'end' && [end.usage.completionTokens, end.usageEstimated]).toEqual([expected, true]);
    } finally {
      await new Promise<void>((resolve) => local.close(() => resolve()));
    }
  });
});
