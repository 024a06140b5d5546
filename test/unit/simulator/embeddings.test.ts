import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simulatedVector } from '../../../src/simulator/embeddings.js';
import { startSimulator, type Simulator } from '../../../src/simulator/index.js';

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

describe('POST /v1/embeddings and fault rules', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ latencyScale: 0 });
  });
  afterEach(() => sim.clearFaults());
  afterAll(() => sim.close());

  const embed = (model = 'text-embedding-3-small'): Promise<Response> =>
    fetch(`${sim.baseURL}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, input: ['hello'] }),
    });

  it('answers as a rule says, as chat completions do, and records the request', async () => {
    sim.injectFault({ kind: 'http_error', status: 503, model: 'text-embedding-3-small', times: 1 });
    sim.injectFault({ kind: 'rate_limit', retryAfter: '7', times: 1 });
    const failed = await embed();
    expect(failed.status).toBe(503);
    const limited = await embed('text-embedding-3-large');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect((await embed()).status).toBe(200);
    await sim.waitForIdle();
    expect(sim.requests.slice(-3).map((r) => [r.model, r.fault, r.outcome])).toEqual([
      ['text-embedding-3-small', 'http_error', 'fault'],
      ['text-embedding-3-large', 'rate_limit', 'fault'],
      ['text-embedding-3-small', undefined, 'completed'],
    ]);
  });

  it('hangs until the client leaves, and sends a broken body for malformed', async () => {
    sim.injectFault({ kind: 'hang', times: 1 });
    const hung = fetch(`${sim.baseURL}/embeddings`, {
      method: 'POST',
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }),
      signal: AbortSignal.timeout(300),
    });
    await expect(hung).rejects.toThrow();
    await sim.waitForIdle();
    expect(sim.requests.at(-1)).toMatchObject({ fault: 'hang', outcome: 'client_closed' });
    sim.injectFault({ kind: 'malformed', times: 1 });
    const broken = await embed();
    await expect(broken.json()).rejects.toThrow(SyntaxError);
  });
});
