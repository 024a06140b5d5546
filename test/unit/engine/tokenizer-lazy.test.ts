import { describe, expect, it } from 'vitest';
import { Engine, classifyComplexity, loadTokenizer, tokenizerLoaded } from '../../../src/engine/index.js';

// Each test file gets its own module graph, so nothing else has loaded the tokenizer here.
describe('the routing tokenizer is loaded on first use', () => {
  it('is not in memory after the engine module loads, and counts real tokens once loaded', async () => {
    expect(Engine).toBeTypeOf('function');
    expect(tokenizerLoaded()).toBe(false);
    await loadTokenizer();
    expect(tokenizerLoaded()).toBe(true);
    // o200k: "hello world" is 2 tokens, plus 3 for the message framing.
    expect(classifyComplexity([{ role: 'user', content: 'hello world' }], 10).promptTokens).toBe(5);
  });
});
