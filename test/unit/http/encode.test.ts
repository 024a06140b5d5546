import { describe, expect, it } from 'vitest';
import { deadlineExceeded } from '../../../src/domain/errors.js';
import type { AttemptRecord } from '../../../src/domain/chat.js';
import type { Answer } from '../../../src/engine/index.js';
import { attemptsText, encodeCompletion, usageText } from '../../../src/http/encode.js';
import { encodeAttempt } from '../../../src/http/errors.js';
import type { CompletionAnswer } from '../../../src/http/engine-calls.js';

const usage = { promptTokens: 12, completionTokens: 3, totalTokens: 15, cachedTokens: 4 };
const success: AttemptRecord = {
  model: 'gpt-4o',
  provider: 'openai',
  outcome: 'success',
  latencyMs: 1.23456,
  usage,
  costUsd: 0.00015,
  retry: 0,
  backoffMs: 0,
};

function answer(over: Partial<Answer> = {}): Answer {
  return {
    content: 'Hello!',
    model: 'gpt-4o',
    provider: 'openai',
    finishReason: 'stop',
    usage,
    costUsd: 0.00015,
    latencyMs: 2.0004,
    attempts: [success],
    ...over,
  };
}

const completion = (a: Answer, over: Partial<CompletionAnswer> = {}): CompletionAnswer => ({
  answer: a,
  fallbackTriggered: false,
  isDefaultMessage: false,
  decision: undefined,
  ...over,
});

/** The wire shape the OpenAI SDKs read, with our extras, written out key by key. */
function expected(a: Answer, c: { fallback?: boolean; defaultMessage?: boolean } = {}) {
  return {
    id: 'req-1',
    object: 'chat.completion',
    created: expect.any(Number),
    model: a.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: a.toolCalls && a.content === '' ? null : a.content,
          refusal: null,
          ...(a.toolCalls
            ? { tool_calls: a.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })) }
            : {}),
        },
        logprobs: null,
        finish_reason: a.finishReason === 'unknown' ? 'stop' : a.finishReason,
      },
    ],
    usage: {
      prompt_tokens: 12,
      completion_tokens: 3,
      total_tokens: 15,
      prompt_tokens_details: { cached_tokens: 4, cache_write_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
    x_orchestrator: {
      request_id: 'req-1',
      provider: a.provider,
      simulated: false,
      cost_usd: Number.isFinite(a.costUsd) ? a.costUsd : null,
      latency_ms: Math.round(a.latencyMs * 1000) / 1000,
      attempts: a.attempts.map((r) => ({
        model: r.model,
        provider: r.provider,
        outcome: r.outcome,
        reason: r.error?.reason ?? null,
        latency_ms: Math.round(r.latencyMs * 1000) / 1000,
        cost_usd: r.costUsd,
        retry: r.retry,
      })),
      fallback_triggered: c.fallback ?? false,
      is_default_message: c.defaultMessage ?? false,
      cache: a.cache ? { hit: a.cache.hit, stale: a.cache.stale, age_seconds: a.cache.ageMs / 1000 } : null,
      route_decision: null,
    },
  };
}

describe('encodeCompletion', () => {
  it('writes the chat.completion object, our extras under x_orchestrator', () => {
    const a = answer();
    const text = encodeCompletion(completion(a), 'req-1');
    expect(JSON.parse(text)).toEqual(expected(a));
    // Key order as the object literal gives it: what clients that print the body see.
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', 'x_orchestrator']);
  });

  it('escapes any content: quotes, backslashes, newlines, control and line-separator characters, emoji', () => {
    const content = 'a "quoted" \\ back\nslash\t\u0001 \u2028 \u2029 😀 </script>';
    const text = encodeCompletion(completion(answer({ content, model: 'm"odel' })), 'req-1');
    const parsed = JSON.parse(text) as { model: string; choices: { message: { content: string } }[] };
    expect(parsed.choices[0]!.message.content).toBe(content);
    expect(parsed.model).toBe('m"odel');
  });

  it('carries tool calls with null content, a cache hit, failed attempts with their reason, flags, and null for a cost that is not a number', () => {
    const failed: AttemptRecord = {
      ...success,
      model: 'gpt-4o-mini',
      outcome: 'timeout',
      error: deadlineExceeded('slow'),
      costUsd: 0,
      retry: 1,
    };
    const a = answer({
      content: '',
      finishReason: 'tool_calls',
      toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' }],
      cache: { hit: true, stale: true, ageMs: 1500 },
      attempts: [failed, success],
      costUsd: Number.NaN,
    });
    const text = encodeCompletion(completion(a, { fallbackTriggered: true, isDefaultMessage: true }), 'req-1');
    expect(JSON.parse(text)).toEqual(expected(a, { fallback: true, defaultMessage: true }));
    expect(JSON.parse(text).x_orchestrator.attempts[0].reason).toBe('DEADLINE_EXCEEDED');
  });
});

describe('the text encoders of usage and attempts', () => {
  it('write the bytes JSON.stringify writes for the same objects (error bodies and embeddings build those)', () => {
    const failed: AttemptRecord = {
      ...success,
      model: 'm"odel\\x',
      outcome: 'failure',
      error: deadlineExceeded('slow'),
      latencyMs: 10.0005,
      costUsd: 1e-7,
      retry: 2,
    };
    // A failure the upstream named carries its id (the header's printable ASCII, quotes included).
    const named: AttemptRecord = { ...failed, error: deadlineExceeded('slow').withMetadata({ upstream_request_id: 'req_"1\\' }) };
    for (const attempts of [[], [success], [failed, success], [named, success]]) {
      expect(attemptsText(attempts)).toBe(JSON.stringify(attempts.map(encodeAttempt)));
    }
    expect(JSON.parse(attemptsText([named, success]))).toMatchObject([{ upstream_request_id: 'req_"1\\' }, { reason: null }]);
    expect(JSON.parse(attemptsText([named, success]))[1]).not.toHaveProperty('upstream_request_id');
    expect(attemptsText([{ ...success, costUsd: Number.NaN }])).toBe(JSON.stringify([encodeAttempt({ ...success, costUsd: Number.NaN })]));
    expect(usageText(usage)).toBe(
      JSON.stringify({
        prompt_tokens: 12,
        completion_tokens: 3,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 4, cache_write_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      }),
    );
  });

  // OpenAI's reasoning models name their thinking in completion_tokens_details; OpenRouter names
  // Anthropic's cache writes in prompt_tokens_details: each is part of the count beside it.
  it("write a reasoning model's reasoning tokens and the prompt's cache writes where the SDKs and OpenRouter put them", () => {
    const detailed = {
      promptTokens: 300,
      completionTokens: 210,
      totalTokens: 510,
      cachedTokens: 100,
      cacheWriteTokens: 100,
      reasoningTokens: 192,
    };
    expect(JSON.parse(usageText(detailed))).toEqual({
      prompt_tokens: 300,
      completion_tokens: 210,
      total_tokens: 510,
      prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 192 },
    });
  });
});
