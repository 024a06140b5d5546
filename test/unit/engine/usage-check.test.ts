import { describe, expect, it } from 'vitest';
import type { ChatMessage, TokenUsage } from '../../../src/domain/chat.js';
import { checkUsage } from '../../../src/engine/usage-check.js';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';

const usage = (promptTokens: number): TokenUsage => ({
  promptTokens,
  completionTokens: 10,
  totalTokens: promptTokens + 10,
  cachedTokens: 0,
});
const question: ChatMessage[] = [{ role: 'user', content: 'What is in this picture?' }];

describe('checkUsage with tools and images', () => {
  it('takes a prompt count that only the tool definitions explain', () => {
    const schema = {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 200 }, (_, i) => [`field_${i}`, { type: 'string', description: 'a field of the record' }]),
      ),
    };
    const tooling = { tools: [{ name: 'save_record', parameters: schema }] };
    expect(checkUsage(usage(2_000), { messages: question, maxTokens: 100, tooling }, 40).refused).toBeUndefined();
    expect(checkUsage(usage(2_000), { messages: question, maxTokens: 100 }, 40).refused).toContain('prompt_tokens 2000');
  });

  // Anthropic adds a system prompt of its own to every request that offers tools (up to 530
  // tokens by its pricing page, 346 on current models), counted in input_tokens: a short
  // question with one small tool reports far more tokens than its characters.
  it("takes a prompt count that the provider's tool-use system prompt explains", () => {
    const tooling = {
      tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
    };
    const weather: ChatMessage[] = [{ role: 'user', content: 'Weather in Lima?' }];
    expect(checkUsage(usage(420), { messages: weather, maxTokens: 100, tooling }, 40).refused).toBeUndefined();
    expect(checkUsage(usage(420), { messages: weather, maxTokens: 100 }, 40).refused).toContain('prompt_tokens 420');
  });

  it('charges the tool definitions and the answer schema in the estimate that replaces a refused report', () => {
    const description = 'a field of the record '.repeat(40);
    const tooling = {
      tools: [{ name: 'save_record', description, parameters: { type: 'object' } }],
      responseFormat: { type: 'json_schema' as const, name: 'record', schema: { type: 'object', description } },
    };
    const bare = checkUsage(usage(-1), { messages: question, maxTokens: 100 }, 40);
    const withTools = checkUsage(usage(-1), { messages: question, maxTokens: 100, tooling }, 40);
    expect(withTools.refused).toBeDefined();
    // Two copies of an 880-character description at about four characters a token.
    expect(withTools.usage.promptTokens - bare.usage.promptTokens).toBeGreaterThan(440);
    expect(withTools.usage.totalTokens).toBe(withTools.usage.promptTokens + withTools.usage.completionTokens);
  });

  it('takes the tokens of an image, which its characters do not show', () => {
    const withImage: ChatMessage[] = [{ ...question[0]!, parts: [{ type: 'image', image: { url: 'https://example.com/a.png' } }] }];
    expect(checkUsage(usage(1_500), { messages: withImage, maxTokens: 100 }, 40).refused).toBeUndefined();
    expect(checkUsage(usage(1_500), { messages: question, maxTokens: 100 }, 40).refused).toBeDefined();
  });

  // gpt-4o-mini bills 2,833 tokens plus 5,667 a tile; a 768x2048 image at high detail is 8 tiles.
  it("takes gpt-4o-mini's count of its largest image, and refuses one past any image's", () => {
    const withImage: ChatMessage[] = [{ ...question[0]!, parts: [{ type: 'image', image: { url: 'https://example.com/a.png' } }] }];
    const largest = 2_833 + 8 * 5_667 + 12;
    expect(checkUsage(usage(largest), { messages: withImage, maxTokens: 100 }, 40).refused).toBeUndefined();
    expect(checkUsage(usage(100_000), { messages: withImage, maxTokens: 100 }, 40).refused).toContain('prompt_tokens 100000');
  });
});

describe('checkUsage with text in scripts of several bytes a character', () => {
  // A byte-level tokenizer spends up to a token per UTF-8 byte: GPT-4o's o200k counts this
  // Amharic text at about 1.8 tokens a character, so an honest report passes its characters.
  it("takes the upstream's count of a prompt with more tokens than characters", () => {
    const amharic = 'ሰላም ለዓለም። ይህ የሙከራ ጽሑፍ ነው እና ብዙ ቃላትን ይዟል። '.repeat(50);
    const messages: ChatMessage[] = [{ role: 'user', content: amharic }];
    const counted = encode(amharic).length + 3;
    expect(counted).toBeGreaterThan(amharic.length + 100);
    const checked = checkUsage(usage(counted), { messages, maxTokens: 100 }, 40);
    expect(checked.refused).toBeUndefined();
    expect(checked.usage.promptTokens).toBe(counted);
  });

  it('still refuses a count past a token per byte', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'ሰላም ለዓለም'.repeat(100) }];
    const bytes = Buffer.byteLength(messages[0]!.content);
    expect(checkUsage(usage(bytes * 2), { messages, maxTokens: 100 }, 40).refused).toContain(`prompt_tokens ${bytes * 2}`);
  });
});

describe('checkUsage of the counts themselves', () => {
  const request = { messages: question, maxTokens: 100 };
  const report = (fields: Partial<TokenUsage>): TokenUsage => ({ ...usage(12), ...fields });

  it('charges the sum of prompt and completion tokens, whatever total the upstream claims', () => {
    const checked = checkUsage(report({ totalTokens: 1 }), request, 40);
    expect(checked.refused).toBeUndefined();
    expect(checked.usage).toEqual({ promptTokens: 12, completionTokens: 10, totalTokens: 22, cachedTokens: 0 });
  });

  it('refuses a prompt of no tokens, and charges the estimate of the prompt', () => {
    const checked = checkUsage(report({ promptTokens: 0, totalTokens: 10 }), request, 40);
    expect(checked.refused).toBe('prompt_tokens 0 for a prompt of 1 message');
    expect(checked.usage.promptTokens).toBeGreaterThan(0);
  });

  it('refuses more completion tokens than max_tokens allows past a little slack, and charges the estimate', () => {
    // The slack covers providers that count their end marker; 64 tokens past max_tokens is more than any does.
    expect(checkUsage(report({ completionTokens: 110 }), request, 40).refused).toBeUndefined();
    const checked = checkUsage(report({ completionTokens: 165 }), request, 40);
    expect(checked.refused).toBe('completion_tokens 165 exceeds max_tokens 100');
    expect(checked.usage.completionTokens).toBeLessThanOrEqual(100);
  });

  it('refuses more cached tokens than prompt tokens, and counts, as none are cached in the estimate', () => {
    const checked = checkUsage(report({ cachedTokens: 13 }), request, 40);
    expect(checked.refused).toBe('cached_tokens 13 exceeds prompt_tokens 12');
    expect(checked.usage.cachedTokens).toBe(0);
    expect(checkUsage(report({ cachedTokens: 1.5 }), request, 40).refused).toBe('cached_tokens 1.5 is not a non-negative integer');
  });

  it('refuses more cache reads and writes together than prompt tokens', () => {
    const checked = checkUsage(report({ cachedTokens: 6, cacheWriteTokens: 7 }), request, 40);
    expect(checked.refused).toBe('cache_write_tokens 7 and cached_tokens 6 exceed prompt_tokens 12');
    expect(checked.usage.cacheWriteTokens).toBeUndefined();
    expect(checkUsage(report({ cachedTokens: 6, cacheWriteTokens: 6 }), request, 40).refused).toBeUndefined();
  });

  it('refuses more one-hour cache writes than cache writes, or a count that is none', () => {
    const checked = checkUsage(report({ cacheWriteTokens: 4, cacheWrite1hTokens: 5 }), request, 40);
    expect(checked.refused).toBe('cache_write_1h_tokens 5 exceeds cache_write_tokens 4');
    expect(checked.usage.cacheWrite1hTokens).toBeUndefined();
    expect(checkUsage(report({ cacheWriteTokens: 4, cacheWrite1hTokens: -1 }), request, 40).refused).toBe(
      'cache_write_1h_tokens -1 is not a non-negative integer',
    );
    const taken = checkUsage(report({ cacheWriteTokens: 4, cacheWrite1hTokens: 4 }), request, 40);
    expect(taken.refused).toBeUndefined();
    expect(taken.usage.cacheWrite1hTokens).toBe(4);
  });

  it('keeps reasoning tokens within the completion, and refuses more than the completion or a count that is none', () => {
    const taken = checkUsage(report({ completionTokens: 10, reasoningTokens: 10 }), request, 40);
    expect(taken.refused).toBeUndefined();
    expect(taken.usage.reasoningTokens).toBe(10);
    const checked = checkUsage(report({ completionTokens: 10, reasoningTokens: 11 }), request, 40);
    expect(checked.refused).toBe('reasoning_tokens 11 exceeds completion_tokens 10');
    expect(checked.usage.reasoningTokens).toBeUndefined();
    expect(checkUsage(report({ reasoningTokens: 2.5 }), request, 40).refused).toBe('reasoning_tokens 2.5 is not a non-negative integer');
    expect(checkUsage(report({ reasoningTokens: -1 }), request, 40).refused).toBe('reasoning_tokens -1 is not a non-negative integer');
  });
});
