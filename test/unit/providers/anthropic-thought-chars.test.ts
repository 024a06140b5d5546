import type { Message } from '@anthropic-ai/sdk/resources/messages';
import { describe, expect, it } from 'vitest';
import { completionOf } from '../../../src/providers/anthropic/answer.js';
import type { ProviderRequest } from '../../../src/providers/types.js';

const request = { messages: [{ role: 'user', content: 'capital?' }], maxTokens: 100 } as unknown as ProviderRequest;
const message = (content: unknown[]): Message =>
  ({
    id: 'msg',
    type: 'message',
    role: 'assistant',
    model: 'claude',
    content,
    stop_reason: 'max_tokens',
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 0 },
  }) as unknown as Message;

describe('an Anthropic answer with thinking blocks', () => {
  it('tells how much it thought, which the usage check counts as billed output', () => {
    const thinking = 'Paris, surely; let me check the others first.';
    const answer = completionOf('anthropic', message([{ type: 'thinking', thinking, signature: 's' }]), request);
    expect(answer.content).toBe('');
    expect(answer.thoughtChars).toBe(thinking.length);
    expect(completionOf('anthropic', message([{ type: 'text', text: 'Paris' }]), request).thoughtChars).toBeUndefined();
  });
});
