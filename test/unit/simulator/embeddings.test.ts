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

  it('leaves a refusal rule, which does not apply to vectors, to the chat request it was set for', async () => {
    sim.injectFault({ kind: 'refusal', times: 1 });
    sim.injectFault({ kind: 'http_error', status: 503, model: 'text-embedding-3-small', times: 1 });
    expect((await embed()).status).toBe(503);
    expect((await embed()).status).toBe(200);
    const chat = await fetch(`${sim.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const answer = (await chat.json()) as { choices: { message: { content: string | null; refusal: string | null } }[] };
    expect(answer.choices[0]?.message).toMatchObject({ content: null, refusal: expect.any(String) });
    await sim.waitForIdle();
    expect(sim.requests.slice(-3).map((r) => [r.model, r.fault, r.outcome])).toEqual([
      ['text-embedding-3-small', 'http_error', 'fault'],
      ['text-embedding-3-small', undefined, 'completed'],
      ['gpt-4o-mini', 'refusal', 'fault'],
    ]);
  });

  it('refuses dimensions on text-embedding-ada-002, which cannot shorten its vectors, as the API does', async () => {
    const post = (model: string, dimensions: number): Promise<Response> =>
      fetch(`${sim.baseURL}/embeddings`, { method: 'POST', body: JSON.stringify({ model, input: 'hello', dimensions }) });
    for (const dimensions of [256, 1536]) {
      const refused = await post('text-embedding-ada-002', dimensions);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: { message: 'This model does not support specifying dimensions.', type: 'invalid_request_error', param: null, code: null },
      });
    }
    const shortened = await post('text-embedding-3-small', 256);
    expect(((await shortened.json()) as { data: { embedding: number[] }[] }).data[0]?.embedding).toHaveLength(256);
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

  const embedMany = async (input: string | string[]): Promise<{ status: number; vectors: number; ms: number }> => {
    const started = performance.now();
    const res = await fetch(`${sim.baseURL}/embeddings`, {
      method: 'POST',
      body: JSON.stringify({ model: 'text-embedding-3-small', input, dimensions: 4 }),
    });
    const body = (await res.json()) as { data: unknown[] };
    return { status: res.status, vectors: body.data.length, ms: performance.now() - started };
  };

  it('truncate: the list of vectors ends early, afterTokens long (all but the last by default), never whole', async () => {
    const three = ['a', 'b', 'c'];
    sim.injectFault({ kind: 'truncate', times: 1 });
    expect(await embedMany(three)).toMatchObject({ status: 200, vectors: 2 });
    sim.injectFault({ kind: 'truncate', afterTokens: 1, times: 1 });
    expect(await embedMany(three)).toMatchObject({ status: 200, vectors: 1 });
    sim.injectFault({ kind: 'truncate', afterTokens: 10, times: 1 });
    expect(await embedMany(three)).toMatchObject({ status: 200, vectors: 2 });
    sim.injectFault({ kind: 'truncate', times: 1 });
    expect(await embedMany('a')).toMatchObject({ status: 200, vectors: 0 });
    expect(await embedMany(three)).toMatchObject({ status: 200, vectors: 3 });
  });

  it('slow: the answer waits for the input read at tokensPerSecond', async () => {
    sim.injectFault({ kind: 'slow', tokensPerSecond: 20, times: 1 });
    // 40 characters: 10 tokens, half a second at 20 a second.
    const slow = await embedMany('x'.repeat(40));
    expect(slow).toMatchObject({ status: 200, vectors: 1 });
    expect(slow.ms).toBeGreaterThanOrEqual(450);
    expect((await embedMany('x'.repeat(40))).ms).toBeLessThan(400);
  });
});
