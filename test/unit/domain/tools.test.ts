import { describe, expect, it } from 'vitest';
import { estimatePromptTokens, estimateToolingTokens, IMAGE_TOKEN_ESTIMATE } from '../../../src/domain/chat.js';
import { checkConversation, requiredCapabilities } from '../../../src/domain/conversation.js';
import { checkTooling, deeperThan, type JsonObject, TOOL_LIMITS, ToolCallAssembler } from '../../../src/domain/tools.js';

describe('checkTooling', () => {
  it('names empty, invalid and repeated tool names, an undefined chosen function, and parallel calls without tools', () => {
    const at = (name: string) => `tooling.${name}`;
    expect(
      checkTooling(
        { tools: [{ name: '' }, { name: 'bad name' }, { name: 'ok' }, { name: 'ok' }], toolChoice: { type: 'function', name: 'missing' } },
        at,
      ).map((v) => v.field),
    ).toEqual(['tooling.tools[0].name', 'tooling.tools[1].name', 'tooling.tools[3].name', 'tooling.tool_choice']);
    expect(checkTooling({ parallelToolCalls: true, toolChoice: { type: 'required' } }, at).map((v) => v.field)).toEqual([
      'tooling.tool_choice',
      'tooling.parallel_tool_calls',
    ]);
  });
});

describe('schema depth', () => {
  /** An object schema nested `depth` levels: { "type": "object", "x": { ... } }. */
  const nested = (depth: number): JsonObject => {
    let schema: JsonObject = { type: 'object' };
    for (let i = 1; i < depth; i++) schema = { type: 'object', x: schema };
    return schema;
  };

  it('measures objects and arrays at any depth without recursion', () => {
    expect(deeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(deeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
    expect(deeperThan('text', 0)).toBe(false);
    expect(deeperThan(nested(100_000), 64)).toBe(true);
  });

  it('refuses tool parameters and response schemas nested past the limit, by field', () => {
    const max = TOOL_LIMITS.maxSchemaDepth;
    const deep = nested(max + 1);
    const fields = checkTooling(
      {
        tools: [
          { name: 'ok', parameters: nested(max) },
          { name: 'deep', parameters: deep },
        ],
        responseFormat: { type: 'json_schema', name: 's', schema: deep },
      },
      (name) => name,
    ).map((v) => v.field);
    expect(fields).toEqual(['tools[1].parameters', 'response_format.json_schema.schema']);
  });
});

describe('checkConversation', () => {
  it('accepts a tool message that answers an earlier call and refuses one that answers none', () => {
    const call = { id: 'c1', name: 'f', arguments: '{}' };
    const ok = checkConversation(
      [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '', toolCalls: [call] },
        { role: 'tool', content: 'r', toolCallId: 'c1' },
      ],
      (i) => `messages[${i}]`,
      { maxImageBytes: 10, maxContentChars: 100 },
    );
    expect(ok).toEqual([]);
    const early = checkConversation(
      [
        { role: 'tool', content: 'r', toolCallId: 'c1' },
        { role: 'assistant', content: '', toolCalls: [call] },
      ],
      (i) => `messages[${i}]`,
      { maxImageBytes: 10, maxContentChars: 100 },
    );
    expect(early.map((v) => v.field)).toEqual(['messages[0].tool_call_id']);
  });
});

describe('requiredCapabilities', () => {
  it('sees tools offered or in the history, images, and a JSON Schema answer', () => {
    expect(requiredCapabilities([{ role: 'user', content: 'q' }], undefined)).toEqual({ tools: false, images: false, jsonSchema: false });
    expect(
      requiredCapabilities([{ role: 'user', content: '', parts: [{ type: 'image', image: { url: 'https://x/y.png' } }] }], {
        responseFormat: { type: 'json_schema', name: 'n', schema: { type: 'object' } },
      }),
    ).toEqual({ tools: false, images: true, jsonSchema: true });
    expect(requiredCapabilities([{ role: 'tool', content: 'r', toolCallId: 'c' }], undefined).tools).toBe(true);
  });
});

describe('ToolCallAssembler', () => {
  it('joins pieces by index, in index order, keeping the first id and name', () => {
    const calls = new ToolCallAssembler();
    calls.add({ index: 1, id: 'b', name: 'g', arguments: '' });
    calls.add({ index: 0, id: 'a', name: 'f', arguments: '{"x"' });
    calls.add({ index: 1, arguments: '{}' });
    calls.add({ index: 0, arguments: ':1}' });
    expect(calls.result()).toEqual([
      { id: 'a', name: 'f', arguments: '{"x":1}' },
      { id: 'b', name: 'g', arguments: '{}' },
    ]);
  });
});

describe('token estimates', () => {
  it('count tool calls by their text, each image as IMAGE_TOKEN_ESTIMATE, and tool definitions by their JSON', () => {
    const text = estimatePromptTokens([{ role: 'user', content: 'abcd' }]);
    expect(text).toBe(1 + 3);
    const image = estimatePromptTokens([{ role: 'user', content: 'abcd', parts: [{ type: 'image', image: { url: 'https://x/y.png' } }] }]);
    expect(image).toBe(text + IMAGE_TOKEN_ESTIMATE);
    const call = estimatePromptTokens([{ role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'abcd', arguments: '{"a":1}' }] }]);
    expect(call).toBe(Math.ceil(11 / 4) + 3);
    const tools = { tools: [{ name: 'f', parameters: { type: 'object' } }] };
    expect(estimateToolingTokens(tools)).toBe(Math.ceil(JSON.stringify([tools.tools, null]).length / 4));
    expect(estimateToolingTokens(undefined)).toBe(0);
  });
});
