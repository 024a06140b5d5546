import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateText, startSimulator, tokenize, type Simulator } from '../../../src/simulator/index.js';

/**
 * OpenAI's reasoning models think before they answer: the thinking is never sent, but it is billed
 * as completion tokens and named in usage.completion_tokens_details.reasoning_tokens, within
 * max_completion_tokens. The simulator reports it the same way, so the gateway's reading of it runs
 * against a real HTTP upstream.
 */
const PROMPT = [{ role: 'user' as const, content: 'Name the capital of France.' }];
let sim: Simulator;
let client: OpenAI;
beforeAll(async () => {
  sim = await startSimulator({ latencyScale: 0 });
  client = new OpenAI({ baseURL: sim.baseURL, apiKey: 'x', maxRetries: 0, logLevel: 'off' });
});
afterAll(async () => {
  await sim.close();
});

type Effort = 'minimal' | 'low' | 'medium' | 'high';
const ask = (model: string, extra: { max_completion_tokens?: number; reasoning_effort?: Effort } = {}) =>
  client.chat.completions.create({ model, messages: PROMPT, max_completion_tokens: 2_000, ...extra });

describe('simulated reasoning models', () => {
  it('count their thinking in completion_tokens and name it in completion_tokens_details, the answer unchanged', async () => {
    const completion = await ask('o3');
    const visible = tokenize(generateText('o3', PROMPT)).length;
    const reasoning = completion.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
    expect(reasoning).toBeGreaterThan(0);
    expect(completion.choices[0]?.message.content).toBe(generateText('o3', PROMPT));
    expect(completion.usage?.completion_tokens).toBe(visible + reasoning);
    expect(completion.usage?.total_tokens).toBe((completion.usage?.prompt_tokens ?? 0) + visible + reasoning);
  });

  it('think more at a higher reasoning_effort', async () => {
    const counts: number[] = [];
    for (const effort of ['minimal', 'low', 'medium', 'high'] as const) {
      const completion = await ask('gpt-5', { reasoning_effort: effort });
      counts.push(completion.usage?.completion_tokens_details?.reasoning_tokens ?? -1);
    }
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(new Set(counts).size).toBe(counts.length);
  });

  it('think only within what max_completion_tokens leaves past the answer', async () => {
    const visible = tokenize(generateText('o4-mini', PROMPT)).length;
    const completion = await ask('o4-mini', { max_completion_tokens: visible + 3 });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBe(visible + 3);
    expect(completion.usage?.completion_tokens_details?.reasoning_tokens).toBe(3);
  });

  it('report none for a model that does not reason, or a GPT-5 version asked for no reasoning', async () => {
    for (const [model, effort] of [
      ['gpt-4o', undefined],
      ['gpt-5.1', undefined],
      ['gpt-5.1', 'none'],
    ] as const) {
      const completion = await client.chat.completions.create({
        model,
        messages: PROMPT,
        ...(effort ? { reasoning_effort: effort } : {}),
      });
      expect(completion.usage?.completion_tokens_details?.reasoning_tokens).toBe(0);
    }
    const reasoning = await ask('gpt-5.1', { reasoning_effort: 'low' });
    expect(reasoning.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
  });

  it('report the same count in the usage chunk of a stream', async () => {
    const whole = await ask('o3');
    const stream = await client.chat.completions.create({
      model: 'o3',
      messages: PROMPT,
      max_completion_tokens: 2_000,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage).toEqual(whole.usage);
  });
});
