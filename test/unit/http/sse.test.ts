import { describe, expect, it } from 'vitest';
import { ChunkEncoder } from '../../../src/http/sse.js';

/** The delta line as a general serialiser would write the chunk object. */
function parsed(line: string): unknown {
  expect(line.startsWith('data: ')).toBe(true);
  expect(line.endsWith('\n\n')).toBe(true);
  return JSON.parse(line.slice('data: '.length));
}

const TEXTS = ['plain', 'say "hi"\\ back', 'two\nlines\ttab', 'sep\u2028par\u2029', 'emoji 🚀 and é', '\u0000\u001f', ''];

describe('SSE content deltas written from a prefix', () => {
  for (const includeUsage of [false, true]) {
    it(`equal the chunk object for any text and model name (include_usage ${includeUsage})`, () => {
      const model = 'odd "model"\\name';
      const encoder = new ChunkEncoder('req-"1"', includeUsage);
      const start = parsed(encoder.of({ type: 'started', model, provider: 'openai' })) as { created: number };
      for (const content of TEXTS) {
        expect(parsed(encoder.of({ type: 'delta', content }))).toEqual({
          id: 'req-"1"',
          object: 'chat.completion.chunk',
          created: start.created,
          model,
          choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
          ...(includeUsage ? { usage: null } : {}),
        });
      }
    });
  }

  it('names the new model after a restart moves the stream to another one', () => {
    const encoder = new ChunkEncoder('r', false);
    encoder.of({ type: 'started', model: 'first', provider: 'openai' });
    expect((parsed(encoder.of({ type: 'delta', content: 'a' })) as { model: string }).model).toBe('first');
    encoder.of({ type: 'started', model: 'second', provider: 'openai' });
    expect((parsed(encoder.of({ type: 'delta', content: 'b' })) as { model: string }).model).toBe('second');
  });
});
