import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../../src/domain/errors.js';
import { checkEmbeddingResponse } from '../../../../src/providers/openai/embeddings.js';

const request = (inputs: string[], dimensions?: number) => ({
  upstreamModel: 'm',
  inputs,
  dimensions,
  signal: new AbortController().signal,
});
const item = (index: number, embedding: unknown) => ({ object: 'embedding', index, embedding });
const usage = { prompt_tokens: 5, total_tokens: 5 };

function refusal(body: unknown, inputs = ['a', 'b'], dimensions?: number): string {
  try {
    checkEmbeddingResponse('up', request(inputs, dimensions), body);
  } catch (err) {
    expect(err).toBeInstanceOf(OrchestratorError);
    expect((err as OrchestratorError).reason).toBe('UPSTREAM_MALFORMED_RESPONSE');
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('checkEmbeddingResponse', () => {
  it('puts the vectors in index order and reads prompt tokens', () => {
    const result = checkEmbeddingResponse('up', request(['a', 'b']), { data: [item(1, [0.5, 0.5]), item(0, [1, 0])], usage });
    expect(result).toEqual({
      vectors: [
        [1, 0],
        [0.5, 0.5],
      ],
      promptTokens: 5,
    });
  });

  it('refuses a vector count other than the inputs', () => {
    expect(refusal({ data: [item(0, [1])], usage })).toContain('1 vectors for 2 inputs');
  });

  it('refuses a repeated or out-of-range index', () => {
    expect(refusal({ data: [item(0, [1]), item(0, [1])], usage })).toContain('index');
    expect(refusal({ data: [item(0, [1]), item(2, [1])], usage })).toContain('index');
  });

  it('refuses vectors of differing or unrequested lengths and non-finite values', () => {
    expect(refusal({ data: [item(0, [1, 2]), item(1, [1])], usage })).toContain('expected 2');
    expect(refusal({ data: [item(0, [1, 2]), item(1, [1, 2])], usage }, ['a', 'b'], 3)).toContain('expected 3');
    expect(refusal({ data: [item(0, [1, 'x']), item(1, [1, 2])], usage })).toContain('finite');
    expect(refusal({ data: [item(0, 'base64=='), item(1, [1])], usage })).toContain('list of floats');
  });

  // A vector is floats (EmbedResponse's values, base64 float32): 1e39 reached a gRPC caller as Infinity.
  it('refuses a value no float can hold', () => {
    expect(refusal({ data: [item(0, [1e39, 0]), item(1, [1, 0])], usage })).toContain('float');
    expect(refusal({ data: [item(0, [-1e39, 0]), item(1, [1, 0])], usage })).toContain('float');
    const largest = 3.4028234663852886e38;
    expect(checkEmbeddingResponse('up', request(['a', 'b']), { data: [item(0, [largest]), item(1, [-largest])], usage }).vectors).toEqual([
      [largest],
      [-largest],
    ]);
  });

  it('passes a usage report on as it came, or none, for the engine to check (the vectors are fine)', () => {
    const data = [item(0, [1]), item(1, [1])];
    expect(checkEmbeddingResponse('up', request(['a', 'b']), { data }).promptTokens).toBeUndefined();
    expect(checkEmbeddingResponse('up', request(['a', 'b']), { data, usage: null }).promptTokens).toBeUndefined();
    expect(checkEmbeddingResponse('up', request(['a', 'b']), { data, usage: { prompt_tokens: -1 } }).promptTokens).toBe(-1);
  });
});
