import { describe, expect, it } from 'vitest';
import { costOf } from '../../../src/catalog/catalog.js';
import type { ModelDefinition } from '../../../src/catalog/models.js';
import { estimateUsage, type ChatMessage, type TokenUsage } from '../../../src/domain/chat.js';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { usageSoFar } from '../../../src/engine/attempt-errors.js';

const prompt = 'a long system prompt the provider caches, '.repeat(20);
const request = { messages: [{ role: 'user', content: prompt }] as ChatMessage[], maxTokens: 200 };
const cut = new OrchestratorError({ kind: 'unavailable', reason: Reason.STREAM_TRUNCATED, message: 'cut', retryable: true });
const overloaded = new OrchestratorError({ kind: 'unavailable', reason: Reason.UPSTREAM_ERROR, message: 'overloaded', retryable: true });

/** What Anthropic's message_start reported: 20 uncached, 150 read from the cache, 30 written to it (10 for an hour). */
const REPORTED: TokenUsage = {
  promptTokens: 200,
  completionTokens: 0,
  totalTokens: 200,
  cachedTokens: 150,
  cacheWriteTokens: 30,
  cacheWrite1hTokens: 10,
};

describe('the usage of a stream that broke after the upstream reported its prompt', () => {
  it("charges the upstream's prompt counts, cache reads and writes included, and estimates the text received", () => {
    const charged = usageSoFar(request, { generatedChars: 41, aborted: false, error: cut, reportedPrompt: REPORTED });
    expect(charged).toEqual({
      usage: { ...REPORTED, completionTokens: 11, totalTokens: 211 },
      estimated: true,
    });
  });

  it('prices the cache reads at the cached rate and the writes above the input rate, unlike the estimate', () => {
    const model = { inputPricePerMillion: 1, cachedInputPricePerMillion: 0.1, outputPricePerMillion: 2 } as ModelDefinition;
    const { usage } = usageSoFar(request, { generatedChars: 4, aborted: false, error: cut, reportedPrompt: REPORTED });
    expect(costOf(model, usage)).toBeCloseTo((20 * 1 + 150 * 0.1 + 20 * 1.25 + 10 * 2 + 1 * 2) / 1e6, 12);
  });

  it('charges the reported prompt whatever broke the stream: an abort, or an error event before any text', () => {
    const aborted = usageSoFar(request, { generatedChars: 0, aborted: true, error: cut, reportedPrompt: REPORTED });
    expect(aborted.usage).toMatchObject({ promptTokens: 200, cachedTokens: 150, completionTokens: 0 });
    const failed = usageSoFar(request, { generatedChars: 0, aborted: false, error: overloaded, reportedPrompt: REPORTED });
    expect(failed).toEqual({ usage: REPORTED, estimated: true });
  });

  it('charges the estimate for a report the usage check refuses', () => {
    const impossible = { ...REPORTED, cachedTokens: 500 };
    const charged = usageSoFar(request, { generatedChars: 8, aborted: false, error: cut, reportedPrompt: impossible });
    expect(charged).toEqual({ usage: estimateUsage(request, 8), estimated: true });
  });

  it('takes a report of no prompt tokens for none: a compatible server that counts the prompt only at the end', () => {
    const none = { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedTokens: 0 };
    const charged = usageSoFar(request, { generatedChars: 8, aborted: false, error: cut, reportedPrompt: none });
    expect(charged).toEqual({ usage: estimateUsage(request, 8), estimated: true });
  });

  it('without a report, charges as before: the estimate of a cut answer, nothing for a failure that produced nothing', () => {
    expect(usageSoFar(request, { generatedChars: 8, aborted: false, error: cut })).toEqual({
      usage: estimateUsage(request, 8),
      estimated: true,
    });
    expect(usageSoFar(request, { generatedChars: 0, aborted: false, error: overloaded })).toEqual({
      usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedTokens: 0 },
      estimated: false,
    });
  });
});

describe('the usage of a stream that broke after the upstream reported its answer', () => {
  const answer: TokenUsage = { ...REPORTED, completionTokens: 7, totalTokens: 207 };

  it("charges the upstream's counts of the prompt and of the answer, not estimated", () => {
    const charged = usageSoFar(request, {
      generatedChars: 41,
      aborted: false,
      error: cut,
      reportedPrompt: REPORTED,
      reportedAnswer: answer,
    });
    expect(charged).toEqual({ usage: answer, estimated: false });
  });

  it('falls back to the reported prompt and the estimated text when the usage check refuses the answer report', () => {
    const none = { ...REPORTED, completionTokens: 0 };
    const charged = usageSoFar(request, { generatedChars: 41, aborted: false, error: cut, reportedPrompt: REPORTED, reportedAnswer: none });
    expect(charged).toEqual({ usage: { ...REPORTED, completionTokens: 11, totalTokens: 211 }, estimated: true });
  });
});
