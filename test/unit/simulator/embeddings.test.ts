import { describe, expect, it } from 'vitest';
import { simulatedVector } from '../../../src/simulator/embeddings.js';

describe('simulatedVector', () => {
  it('is a deterministic unit vector of the requested length', () => {
    const v = simulatedVector('text-embedding-3-small', 'hello', 100);
    expect(v).toHaveLength(100);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(simulatedVector('text-embedding-3-small', 'hello', 100)).toEqual(v);
  });

  it('differs by text and by model', () => {
    const v = simulatedVector('text-embedding-3-small', 'hello', 8);
    expect(simulatedVector('text-embedding-3-small', 'hello!', 8)).not.toEqual(v);
    expect(simulatedVector('text-embedding-3-large', 'hello', 8)).not.toEqual(v);
  });
});
