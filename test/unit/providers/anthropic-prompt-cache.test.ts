import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../src/domain/chat.js';
import { applyTooling, toAnthropicConversation, type ToolingBody } from '../../../src/providers/anthropic/tooling.js';

const FIVE = { ttl: '5m' } as const;
const HOUR = { ttl: '1h' } as const;
const EPHEMERAL = { type: 'ephemeral' };

describe('prompt cache markers in the Messages API request', () => {
  it('a request without markers is sent as before: the system prompt a string, text turns strings', () => {
    const sent = toAnthropicConversation([
      { role: 'system', content: 'rules' },
      { role: 'developer', content: 'more rules' },
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
    ]);
    expect(sent.system).toBe('rules\n\nmore rules');
    expect(sent.messages).toEqual([{ role: 'user', content: 'a\n\nb' }]);
  });

  it('a marked system message makes the system prompt blocks, the marker on its block; one hour says so', () => {
    const sent = toAnthropicConversation([
      { role: 'system', content: 'rules' },
      { role: 'system', content: 'a long document', cache: HOUR },
      { role: 'user', content: 'q' },
    ]);
    expect(sent.system).toEqual([
      { type: 'text', text: 'rules' },
      { type: 'text', text: '\n\na long document', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
    expect(sent.messages).toEqual([{ role: 'user', content: 'q' }]);
  });

  it("a marked message's last block carries it: text, a tool call, a tool result", () => {
    const sent = toAnthropicConversation([
      { role: 'user', content: 'weather?', cache: FIVE },
      { role: 'assistant', content: 'checking', toolCalls: [{ id: 'call_1', name: 'get', arguments: '{}' }], cache: FIVE },
      { role: 'tool', content: 'sunny', toolCallId: 'call_1', cache: FIVE },
    ]);
    expect(sent.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'weather?', cache_control: EPHEMERAL }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'checking' },
          { type: 'tool_use', id: 'call_1', name: 'get', input: {}, cache_control: EPHEMERAL },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'sunny', cache_control: EPHEMERAL }] },
    ]);
  });

  it("a marked part's block carries it, and merged turns keep their blocks rather than join the text", () => {
    const parts = [
      { type: 'text', text: 'document', cache: HOUR },
      { type: 'text', text: 'question' },
    ] as const;
    const sent = toAnthropicConversation([
      { role: 'user', content: 'documentquestion', parts: [...parts], joinedParts: true },
      { role: 'user', content: 'and more' },
    ]);
    expect(sent.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'document', cache_control: { type: 'ephemeral', ttl: '1h' } },
          { type: 'text', text: 'question' },
          { type: 'text', text: 'and more' },
        ],
      },
    ]);
  });

  it("a tool result's marked parts keep their markers, on the result's text blocks, beside the message's own", () => {
    const sent = toAnthropicConversation([
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get', arguments: '{}' }] },
      {
        role: 'tool',
        content: 'a long reportsunny',
        parts: [
          { type: 'text', text: 'a long report', cache: HOUR },
          { type: 'text', text: 'sunny' },
        ],
        joinedParts: true,
        toolCallId: 'call_1',
        cache: FIVE,
      },
    ]);
    expect(sent.messages[1]).toEqual({
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'call_1',
          content: [
            { type: 'text', text: 'a long report', cache_control: { type: 'ephemeral', ttl: '1h' } },
            { type: 'text', text: 'sunny' },
          ],
          cache_control: EPHEMERAL,
        },
      ],
    });
  });

  it('a marked tool definition carries it; the others do not', () => {
    const body: ToolingBody = {};
    applyTooling(body, { tools: [{ name: 'a' }, { name: 'b', cache: FIVE }] }, { provider: 'anthropic', model: 'claude' });
    expect(body.tools).toEqual([
      { name: 'a', input_schema: { type: 'object', properties: {} } },
      { name: 'b', input_schema: { type: 'object', properties: {} }, cache_control: EPHEMERAL },
    ]);
  });

  it('an image part carries its marker too', () => {
    const message: ChatMessage = {
      role: 'user',
      content: '',
      parts: [
        { type: 'image', image: { url: 'https://example.com/a.png' }, cache: FIVE },
        { type: 'text', text: 'what is it?' },
      ],
    };
    expect(toAnthropicConversation([message]).messages[0]?.content).toEqual([
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' }, cache_control: EPHEMERAL },
      { type: 'text', text: 'what is it?' },
    ]);
  });
});
