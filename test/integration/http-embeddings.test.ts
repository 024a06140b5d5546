import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedVector } from '../../src/simulator/embeddings.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { calmestMs, fastestMs, loopHeldMs } from '../helpers/loop-delay.js';

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
    const bound = 3 * parseMs + 150;
    const held = await calmestMs(
      () =>
        loopHeldMs(async () => {
          const res = await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
          answer = { status: res.status, body: (await res.json()) as { error: { message: string } } };
        }),
      bound,
    );
    expect(answer?.status).toBe(400);
    expect(answer?.body.error.message.startsWith('invalid request: input: at most 256 inputs per call, got 1000000')).toBe(true);
    expect(held).toBeLessThan(bound);
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
    const chat = await post({ model: 'gpt-4o-mini', input: 'x' });
    expect(chat.status).toBe(400);
    const chatRefused = JSON.stringify(await chat.json());
    expect(chatRefused).toContain('chat model');
    expect(chatRefused).toContain('POST /v1/chat/completions');
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
    // One string is the one input: the caller's JSON has no input[0] to point at.
    for (const input of ['', ' ', 'x'.repeat(50_001)]) {
      const res = await post({ model: 'text-embedding-3-small', input });
      const error = ((await res.json()) as { error: { param: string; message: string; field_violations: { field: string }[] } }).error;
      expect(error.param).toBe('input');
      expect(error.field_violations.map((v) => v.field)).toEqual(['input']);
      expect(error.message).toMatch(/^invalid request: input: /);
    }
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

// LangChain's OpenAIEmbeddings (check_embedding_ctx_length, on by default) sends each text as
// tiktoken ids: input is an array of token-id arrays, or one array for a single text.
describe('POST /v1/embeddings with token ids', () => {
  const upstreamInputs = () => h.upstream.requests.map((r) => (r.body as { input?: unknown }).input).filter((input) => input !== undefined);

  it('forwards token arrays as they came, one vector per array, and charges their tokens', async () => {
    const before = upstreamInputs().length;
    const data = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: [
        [9906, 1917],
        [15339, 1070, 2],
      ],
      dimensions: 8,
    });
    expect(data.data.map((d) => d.index)).toEqual([0, 1]);
    expect(data.data[1]?.embedding).toEqual(simulatedVector('text-embedding-3-small', [15339, 1070, 2], 8));
    expect(data.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    const single = await client.embeddings.create({ model: 'text-embedding-3-small', input: [9906, 1917], dimensions: 8 });
    expect(single.data).toHaveLength(1);
    expect(single.data[0]?.embedding).toEqual(data.data[0]?.embedding);
    expect(upstreamInputs().slice(before)).toEqual([
      [
        [9906, 1917],
        [15339, 1070, 2],
      ],
      [[9906, 1917]],
    ]);
    // Text and its token ids are different requests to the cache: the text is not looked up as numbers.
    const text = (await (await post({ model: 'text-embedding-3-small', input: '[9906,1917]', dimensions: 8 })).json()) as {
      data: { embedding: number[] }[];
    };
    expect(text.data[0]?.embedding).not.toEqual(data.data[0]?.embedding);
  });

  it('sends token inputs past 300,000 tokens upstream as several requests, in order', async () => {
    const before = upstreamInputs().length;
    const input = Array.from({ length: 40 }, (_, i) => Array.from({ length: 8000 }, () => i + 1));
    const res = await post({ model: 'text-embedding-3-small', input, dimensions: 4, encoding_format: 'float' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { index: number; embedding: number[] }[]; usage: { prompt_tokens: number } };
    expect(body.data.map((d) => d.index)).toEqual(input.map((_, i) => i));
    expect(body.data[39]?.embedding).toEqual(simulatedVector('text-embedding-3-small', input[39] ?? [], 4));
    expect(body.usage.prompt_tokens).toBe(320_000);
    const sent = upstreamInputs().slice(before) as number[][][];
    expect(sent.map((batch) => batch.reduce((n, ids) => n + ids.length, 0))).toEqual([296_000, 24_000]);
  });

  it('refuses token ids it cannot send with a 400 naming the input', async () => {
    const refused = async (input: unknown) => {
      const res = await post({ model: 'text-embedding-3-small', input });
      expect(res.status, JSON.stringify(input).slice(0, 80)).toBe(400);
      return ((await res.json()) as { error: { param: string; message: string } }).error;
    };
    expect(await refused([[1, 2], []])).toMatchObject({ param: 'input[1]' });
    expect((await refused([[1, 2], Array.from({ length: 8192 }, () => 1)])).message).toContain('at most 8191 tokens');
    // The id itself is named, as the caller's JSON holds it.
    expect(
      await refused([
        [1, 2],
        [1, -2],
      ]),
    ).toMatchObject({ param: 'input[1][1]' });
    expect(await refused([[1, 2.5]])).toMatchObject({ param: 'input[0][1]' });
    expect(await refused([7, 8, 2.5])).toMatchObject({ param: 'input[2]' });
    expect(await refused([1, '2'])).toMatchObject({ param: 'input' });
    expect(await refused(['text', [1, 2]])).toMatchObject({ param: 'input' });
    expect((await refused(Array.from({ length: 257 }, () => [1]))).message).toContain('at most 256 inputs');
    // One flat list of ids is the one input: the caller's JSON names it `input`, as it names its ids input[j].
    const flat = await refused(Array.from({ length: 8192 }, () => 1));
    expect(flat).toMatchObject({ param: 'input' });
    expect(flat.message).toContain('input: at most 8191 tokens');
    expect(await refused([])).toMatchObject({ param: 'input' });
  });
});
