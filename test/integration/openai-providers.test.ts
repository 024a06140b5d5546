import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { localOpenAiGateway } from '../helpers/local-openai.js';
import { expectAnswerAfterThinking, startThinkingGateway, type ThinkingGateway } from '../helpers/thinking-model.js';

/** Two OpenAI-compatible upstreams at once (think OpenAI and OpenRouter), each with its own key; one adds headers. */
describe('several OpenAI-compatible providers from the config file', () => {
  let alpha: Simulator;
  let beta: Simulator;
  let h: Harness;
  beforeAll(async () => {
    // Each simulator refuses a request without its own key (401), so a crossed key cannot pass.
    [alpha, beta] = await Promise.all([
      startSimulator({ latencyScale: 0, apiKey: 'alpha-secret' }),
      startSimulator({ latencyScale: 0, apiKey: 'beta-secret' }),
    ]);
    const file = writeConfigFile(`providers:
  - { name: alpha, kind: openai, base_url: "${alpha.baseURL}", api_key_env: ALPHA_KEY }
  - name: beta
    kind: openai
    base_url: "${beta.baseURL}"
    api_key_env: BETA_KEY
    headers: { HTTP-Referer: "https://example.test/app", X-Title: llm-orchestrator-test }
include_builtin_models: false
models:
  - { id: alpha-chat, provider: alpha, upstream_id: "alpha/chat-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.5 }
  - { id: beta-chat, provider: beta, upstream_id: "beta/chat-2", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: b, tier: small, quality: 0.6 }
`);
    h = await startHarness({
      noOpenAiShorthand: true,
      env: { CONFIG_FILE: file, DEFAULT_MODEL: 'alpha-chat' },
      processEnv: { ALPHA_KEY: 'alpha-secret', BETA_KEY: 'beta-secret' },
    });
  });
  afterAll(async () => {
    await h?.close();
    await Promise.all([alpha?.close(), beta?.close()]);
  });

  it('sends each model to its own upstream with its own key, and the extra headers only to beta', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const a = await callUnary(chat, { model: 'alpha-chat', prompt: 'hi', messages: [] });
    const b = await callUnary(chat, { model: 'beta-chat', prompt: 'hi', messages: [] });
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'beta-chat', prompt: 'stream please' })));
    expect(streamed.error).toBeUndefined();
    expect([a.response.provider, b.response.provider]).toEqual(['alpha', 'beta']);

    expect(alpha.requests.map((r) => [r.model, r.stream])).toEqual([['alpha/chat-1', false]]);
    expect(beta.requests.map((r) => [r.model, r.stream])).toEqual([
      ['beta/chat-2', false],
      ['beta/chat-2', true],
    ]);
    for (const r of alpha.requests) {
      expect(r.headers.authorization).toBe('Bearer alpha-secret');
      expect(r.headers['x-title']).toBeUndefined();
      expect(r.headers['http-referer']).toBeUndefined();
    }
    for (const r of beta.requests) {
      expect(r.headers.authorization).toBe('Bearer beta-secret');
      expect(r.headers['x-title']).toBe('llm-orchestrator-test');
      expect(r.headers['http-referer']).toBe('https://example.test/app');
    }
  });
});

/** An OpenAI-compatible server that never reports usage (many local servers do not), unary or streamed. */
/** OPENAI_API_KEY alone (no `openai` in the file) and the file's own models instead of the built-in catalog. */
describe('the OPENAI_* shorthand serving only the config file’s models', () => {
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('starts, and sends a file model of provider openai to that upstream under its upstream id', async () => {
    const file = writeConfigFile(`include_builtin_models: false
models:
  - { id: house-4o, provider: openai, upstream_id: gpt-4o, context_window: 128000, max_output_tokens: 4096, input_price_per_million: 2.5, output_price_per_million: 10, family: gpt-4o, tier: large, quality: 0.9 }
`);
    h = await startHarness({ env: { CONFIG_FILE: file, DEFAULT_MODEL: 'house-4o' } });
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'house-4o', prompt: 'hi', messages: [] });
    expect([response.model, response.provider]).toEqual(['house-4o', 'openai']);
    expect(h.upstream.requests.map((r) => r.model)).toEqual(['gpt-4o']);
  });
});

describe('an OpenAI-compatible upstream that reports no usage', () => {
  let h: Harness;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const text = 'Hello from a local model';
    ({ h, close } = await localOpenAiGateway(() => ({
      message: { role: 'assistant', content: text },
      deltas: [{ content: 'Hello from ' }, { content: 'a local model' }],
      finishReason: 'stop',
    })));
  });
  afterAll(async () => close?.());

  it('charges our estimate and marks it estimated, on Chat and on StreamChat', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'local-chat', prompt: 'hi', messages: [] });
    // 'hi': ⌈2/4⌉ + 3 prompt tokens; 'Hello from a local model': ⌈24/4⌉ completion tokens.
    expect(response.usage).toMatchObject({ promptTokens: 4, completionTokens: 6 });
    expect(response.attempts[0]).toMatchObject({ usageEstimated: true, costUsd: 0.000016 });
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'local-chat', prompt: 'hi' })));
    const last = streamed.messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event');
    expect(last.completed.usage).toMatchObject({ promptTokens: 4, completionTokens: 6 });
    expect(last.completed.attempts[0]).toMatchObject({ usageEstimated: true, costUsd: 0.000016 });
  });
});

/**
 * A reasoning model on an OpenAI-compatible server (vLLM, Ollama, OpenRouter) streams its thinking
 * as `reasoning_content` or `reasoning` deltas before the answer's first content token.
 */
describe('an OpenAI-compatible reasoning model that thinks longer than the first-token timeout', () => {
  let gateway: ThinkingGateway;
  beforeAll(async () => {
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c', created: 1, model: 'think-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    gateway = await startThinkingGateway('openai', {
      opening: chunk({ role: 'assistant', content: '' }),
      piece: (n) => chunk(n % 2 === 0 ? { reasoning_content: 'hmm ' } : { content: null, reasoning: 'let me see ' }),
      answer: `${chunk({ content: 'The answer.' })}${chunk({}, 'stop')}data: [DONE]\n\n`,
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('is not given up as stalled: its thinking is progress, and the answer streams', async () => {
    await expectAnswerAfterThinking(gateway.h);
  }, 20_000);
});

/**
 * An upstream whose usage report for an answer that only calls a tool says it generated nothing
 * (or a negative count): the tool call's arguments are completion tokens upstreams bill, so the
 * report is refused and the estimate counts them, on Chat and on StreamChat.
 */
describe('an OpenAI-compatible upstream that reports no completion for a tool call', () => {
  const ARGUMENTS = JSON.stringify({ city: 'Paris', unit: 'celsius', note: 'x'.repeat(100) });
  let h: Harness;
  let close: () => Promise<void>;
  let completion = 0;
  beforeAll(async () => {
    const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: ARGUMENTS } };
    ({ h, close } = await localOpenAiGateway(
      () => ({
        message: { role: 'assistant', content: null, tool_calls: [call] },
        deltas: [{ role: 'assistant', tool_calls: [{ index: 0, ...call }] }],
        finishReason: 'tool_calls',
        usage: { prompt_tokens: 20, completion_tokens: completion, total_tokens: 20 + completion },
      }),
      'capabilities: { tools: true }',
    ));
  });
  afterAll(async () => close?.());

  const tooling = { tools: [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object' }, strict: false }] };
  // The call's name and arguments at four characters a token.
  const generated = Math.ceil(('get_weather'.length + ARGUMENTS.length) / 4);

  for (const reported of [0, -3]) {
    it(`charges the tool call's estimate for completion_tokens ${reported}, on Chat and on StreamChat`, async () => {
      completion = reported;
      const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
        model: 'local-chat',
        prompt: 'weather in Paris?',
        messages: [],
        tooling,
      });
      expect(response.toolCalls).toHaveLength(1);
      expect(response.usage?.completionTokens).toBe(generated);
      expect(response.attempts[0]?.usageEstimated).toBe(true);
      const streamed = await collectStream(
        h.clients.chat.streamChat(streamRequest({ model: 'local-chat', prompt: 'weather in Paris?', tooling })),
      );
      const last = streamed.messages.at(-1)?.event;
      if (last?.$case !== 'completed') throw new Error('no completed event');
      expect(last.completed.usage?.completionTokens).toBe(generated);
      expect(last.completed.attempts[0]?.usageEstimated).toBe(true);
    });
  }
});

describe('an OpenAI-compatible upstream that reports no prompt tokens for a prompt', () => {
  let h: Harness;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ h, close } = await localOpenAiGateway(() => ({
      message: { role: 'assistant', content: 'Paris it is' },
      deltas: [{ role: 'assistant', content: 'Paris it is' }],
      finishReason: 'stop',
      usage: { prompt_tokens: 0, completion_tokens: 3, total_tokens: 3 },
    })));
  });
  afterAll(async () => close?.());

  const prompt = 'Which city is the capital of France? '.repeat(20);
  // The prompt at four characters a token plus 3 for the message; the answer's 11 characters, 3 tokens.
  const promptTokens = Math.ceil(prompt.length / 4) + 3;
  const costUsd = (promptTokens * 1 + 3 * 2) / 1e6;

  it('charges the estimate of the prompt, marked estimated, on Chat and on StreamChat', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'local-chat', prompt, messages: [] });
    expect(response.usage).toMatchObject({ promptTokens, completionTokens: 3, totalTokens: promptTokens + 3 });
    expect(response.attempts[0]?.usageEstimated).toBe(true);
    expect(response.costUsd).toBeCloseTo(costUsd, 12);
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'local-chat', prompt })));
    const last = streamed.messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event');
    expect(last.completed.usage).toMatchObject({ promptTokens, completionTokens: 3 });
    expect(last.completed.attempts[0]?.usageEstimated).toBe(true);
    expect(last.completed.costUsd).toBeCloseTo(costUsd, 12);
  });
});

describe('an OpenAI-compatible reasoning model that reports no completion for the thinking it sent', () => {
  const THINKING = 'Let me weigh each capital in turn before I answer. '.repeat(8);
  let h: Harness;
  let close: () => Promise<void>;
  beforeAll(async () => {
    // vLLM's shape when thinking used up max_tokens: content null beside reasoning_content.
    ({ h, close } = await localOpenAiGateway(() => ({
      message: { role: 'assistant', content: null, reasoning_content: THINKING },
      deltas: [{ role: 'assistant', reasoning_content: THINKING }],
      finishReason: 'length',
      usage: { prompt_tokens: 20, completion_tokens: 0, total_tokens: 20 },
    })));
  });
  afterAll(async () => close?.());

  // The thinking at four characters a token: billed as completion tokens, though no text was answered.
  const thought = Math.ceil(THINKING.length / 4);

  it("charges the thinking's estimate, on Chat as on StreamChat", async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: 'local-chat',
      prompt: 'capital?',
      messages: [],
    });
    expect(response.usage?.completionTokens).toBe(thought);
    expect(response.attempts[0]?.usageEstimated).toBe(true);
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'local-chat', prompt: 'capital?' })));
    const last = streamed.messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed event');
    expect(last.completed.usage?.completionTokens).toBe(thought);
    expect(last.completed.costUsd).toBe(response.costUsd);
  });
});
