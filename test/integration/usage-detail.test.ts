import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchResponse, ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A reasoning model bills its thinking as completion tokens and never shows it: the answer's
 * usage names those tokens (reasoning_tokens), over gRPC and the OpenAI-compatible API alike, so
 * a caller can see why a short answer cost what it did.
 */
let h: Harness;
let client: OpenAI;
beforeAll(async () => {
  h = await startHarness();
  client = new OpenAI({ baseURL: `${h.app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => h?.close());

const prompt = 'Name the capital of France.';
const chat = (fields: Partial<ChatRequest>): ChatRequest => ({ model: 'o3', messages: [], prompt, maxTokens: 2_000, ...fields });

describe('reasoning tokens in the answer', () => {
  it('Chat and StreamChat name the reasoning tokens within the completion tokens, answer and attempt alike', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), chat({}));
    const usage = response.usage!;
    expect(usage.reasoningTokens).toBeGreaterThan(0);
    // The visible answer takes tokens too: reasoning is part of the completion, not beside it.
    expect(usage.completionTokens).toBeGreaterThan(usage.reasoningTokens);
    expect(usage.totalTokens).toBe(usage.promptTokens + usage.completionTokens);
    expect(response.attempts[0]?.usage?.reasoningTokens).toBe(usage.reasoningTokens);

    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'o3', prompt, maxTokens: 2_000 })));
    expect(streamed.error).toBeUndefined();
    const completed = streamed.messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.usage).toEqual(usage);
  });

  it('a model that does not reason reports none', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), chat({ model: 'gpt-4o-mini' }));
    expect(response.usage?.reasoningTokens).toBe(0);
    expect(response.usage?.cacheWriteTokens).toBe(0);
  });

  it("a Batch's summary adds up its items' reasoning tokens", async () => {
    const items = [0, 1].map((i) => ({ requestId: `r${i}`, request: chat({}) }));
    const { messages, error } = await collectStream<BatchResponse>(h.clients.chat.batch({ items, concurrency: 2 }));
    expect(error).toBeUndefined();
    let sum = 0;
    for (const m of messages) {
      if (m.event?.$case === 'item' && m.event.item.outcome?.$case === 'response')
        sum += m.event.item.outcome.response.usage!.reasoningTokens;
    }
    const summary = messages.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('no summary');
    expect(sum).toBeGreaterThan(0);
    expect(summary.summary.usage?.reasoningTokens).toBe(sum);
  });

  it('the OpenAI-compatible API names them in completion_tokens_details, unary and streamed', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), chat({}));
    const expected = response.usage!.reasoningTokens;
    const messages = [{ role: 'user' as const, content: prompt }];
    const unary = await client.chat.completions.create({ model: 'o3', messages, max_completion_tokens: 2_000 });
    expect(unary.usage?.completion_tokens_details?.reasoning_tokens).toBe(expected);
    expect(unary.usage?.completion_tokens).toBe(response.usage!.completionTokens);

    const stream = await client.chat.completions.create({
      model: 'o3',
      messages,
      max_completion_tokens: 2_000,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens_details?.reasoning_tokens).toBe(expected);
    expect(usage).toEqual(unary.usage);
  });
});
