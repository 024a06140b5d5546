import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedVector } from '../../src/simulator/embeddings.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { fastestMs, loopHeldMs } from '../helpers/loop-delay.js';

let h: Harness;
let client: OpenAI;
let base: string;
beforeAll(async () => {
  h = await startHarness();
  base = h.app.http!.url;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => h.close());

const post = (body: unknown) =>
  fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('POST /v1/embeddings', () => {
  // Each of a million empty inputs was refused one by one after the count had refused them all:
  // seconds of the event loop, during which every other call waited.
  it('refuses a million empty inputs by their count, holding the loop little longer than parsing them', async () => {
    const text = JSON.stringify({ model: 'text-embedding-3-small', input: Array.from({ length: 1_000_000 }, () => '') });
    const parseMs = fastestMs(() => JSON.parse(text));
    let answer: { status: number; body: { error: { message: string } } } | undefined;
    const held = await loopHeldMs(async () => {
      const res = await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
      answer = { status: res.status, body: (await res.json()) as { error: { message: string } } };
    });
    expect(answer?.status).toBe(400);
    expect(answer?.body.error.message.startsWith('invalid request: input: at most 256 inputs per call, got 1000000')).toBe(true);
    expect(held).toBeLessThan(3 * parseMs + 150);
  });

  it('answers the openai SDK (which asks for base64) with the upstream vectors, usage and our extras', async () => {
    const data = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two'], dimensions: 16 });
    expect(data.model).toBe('text-embedding-3-small');
    expect(data.data.map((d) => d.index)).toEqual([0, 1]);
    const expected = simulatedVector('text-embedding-3-small', 'two', 16);
    expect(data.data[1]?.embedding).toEqual(expected);
    expect(data.usage.prompt_tokens).toBeGreaterThan(0);
    const ext = (data as unknown as { x_orchestrator: Record<string, unknown> }).x_orchestrator;
    expect(ext).toMatchObject({ provider: 'openai', dimensions: 16 });
    expect(ext.cost_usd).toBeGreaterThan(0);
  });

  it('answers floats when asked for floats, from the cache the second time', async () => {
    const body = { model: 'text-embedding-3-small', input: 'a single text', dimensions: 8, encoding_format: 'float' };
    const first = (await (await post(body)).json()) as { data: { embedding: number[] }[]; x_orchestrator: { cache: unknown } };
    const second = (await (await post(body)).json()) as typeof first;
    expect(first.data[0]?.embedding).toHaveLength(8);
    expect(first.x_orchestrator.cache).toEqual({ hit: false, stale: false, age_seconds: 0 });
    expect(second.data[0]?.embedding).toEqual(first.data[0]?.embedding);
    expect(second.x_orchestrator.cache).toMatchObject({ hit: true });
  });

  // As on /v1/chat/completions: clients built on pydantic send unset optional fields as null.
  it('reads null optional fields as absent: the default model, dimensions and format', async () => {
    const res = await post({ model: null, input: 'nulls', dimensions: null, encoding_format: null, user: null });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; data: { embedding: number[] }[] };
    const plain = (await (await post({ input: 'nulls' })).json()) as typeof body;
    expect(body.model).toBe('text-embedding-3-small');
    expect(body.data[0]?.embedding).toEqual(plain.data[0]?.embedding);
  });

  it('refuses what it cannot honour with a 400 naming the field', async () => {
    const unknown = await post({ model: 'text-embedding-3-small', input: 'x', extra: 1 });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain('extra');
    const tokens = await post({ model: 'text-embedding-3-small', input: [[1, 2, 3]] });
    expect(tokens.status).toBe(400);
    const chat = await post({ model: 'gpt-4o-mini', input: 'x' });
    expect(chat.status).toBe(400);
    expect(JSON.stringify(await chat.json())).toContain('chat model');
    const asChat = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(asChat.status).toBe(400);
    const refused = (await asChat.json()) as { error: { param: string; message: string } };
    expect(refused.error.param).toBe('model');
    expect(refused.error.message).toContain('is an embedding model');
  });

  it("names a refused input by the request's own field, input", async () => {
    const err = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['fine', ' '] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input[1]');
    const none = await post({ model: 'text-embedding-3-small', input: [] });
    expect(((await none.json()) as { error: { param: string } }).error.param).toBe('input');
  });

  it('counts Embed calls in the service stats as the method Embed', async () => {
    const stats = JSON.stringify(await (await fetch(`${base}/v1/stats`)).json());
    expect(stats).toContain('"Embed"');
  });
});

describe('embedding models in the model list', () => {
  it('lists and retrieves them as OpenAI does, saying what kind of model each is, its price and vector length', async () => {
    const listed = await client.models.list();
    const ids = listed.data.map((m) => m.id);
    for (const id of ['text-embedding-3-small', 'text-embedding-3-large', 'text-embedding-ada-002', 'gpt-4o-mini'])
      expect(ids).toContain(id);
    expect(ids).toEqual([...ids].sort((a, b) => a.localeCompare(b)));
    const small = (await client.models.retrieve('text-embedding-3-small')) as unknown as {
      id: string;
      object: string;
      x_orchestrator: Record<string, unknown>;
    };
    expect(small.id).toBe('text-embedding-3-small');
    expect(small.object).toBe('model');
    expect(small.x_orchestrator).toMatchObject({
      kind: 'embedding',
      provider: 'openai',
      dimensions: 1536,
      input_price_per_million: 0.02,
      output_price_per_million: 0,
      available: true,
      breaker_state: 'closed',
    });
    const chat = (await client.models.retrieve('gpt-4o-mini')) as unknown as { x_orchestrator: Record<string, unknown> };
    expect(chat.x_orchestrator).toMatchObject({ kind: 'chat', dimensions: null });
  });
});
