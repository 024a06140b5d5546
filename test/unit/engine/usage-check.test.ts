import { describe, expect, it } from 'vitest';
import type { ChatMessage, TokenUsage } from '../../../src/domain/chat.js';
import { checkUsage } from '../../../src/engine/usage-check.js';

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

  it('takes the tokens of an image, which its characters do not show', () => {
    const withImage: ChatMessage[] = [{ ...question[0]!, parts: [{ type: 'image', image: { url: 'https://example.com/a.png' } }] }];
    expect(checkUsage(usage(1_500), { messages: withImage, maxTokens: 100 }, 40).refused).toBeUndefined();
    expect(checkUsage(usage(1_500), { messages: question, maxTokens: 100 }, 40).refused).toBeDefined();
  });
});
