import * as grpc from '@grpc/grpc-js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { ChatServiceClient } from '../../src/gen/orchestrator/v1/chat.js';
import { EmbedRequest, EmbeddingServiceClient } from '../../src/gen/orchestrator/v1/embedding.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { calmestMs, fastestMs, loopHeldMs, unaryBytes } from '../helpers/loop-delay.js';

/** An OpenAI-compatible upstream that records every body and answers from a script. */
interface Recorder {
  readonly url: string;
  readonly bodies: Record<string, unknown>[];
  /** Status codes for the next calls, first first; then 200. */
  failNext: number[];
  /** How many of the next calls get no answer at all (the gateway's attempt timeout cuts them). */
  hangNext: number;
  /** prompt_tokens the next answer reports, instead of 10 per input; 'none': no usage at all. */
  usageNext: number | 'none' | undefined;
  close(): Promise<void>;
}

async function startRecorder(): Promise<Recorder> {
  const bodies: Record<string, unknown>[] = [];
  const state = { failNext: [] as number[], hangNext: 0, usageNext: undefined as number | 'none' | undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as { input: (string | number[])[]; dimensions?: number };
      bodies.push(body as unknown as Record<string, unknown>);
      if (state.hangNext > 0) {
        state.hangNext--;
        return;
      }
      const status = state.failNext.shift();
      res.setHeader('content-type', 'application/json');
      // OpenAI's limit on the tokens of one request, all inputs together; the texts of these tests are a token a word.
      const requested = body.input.reduce((sum, input) => sum + (typeof input === 'string' ? input.split(' ').length : input.length), 0);
      if (requested > 300_000) {
        res.statusCode = 400;
        res.end(
          JSON.stringify({
            error: { message: `Requested ${requested} tokens, max 300000 tokens per request`, type: 'invalid_request_error' },
          }),
        );
        return;
      }
      if (status !== undefined) {
        res.statusCode = status;
        res.end(JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } }));
        return;
      }
      const dims = body.dimensions ?? 4;
      const tokens = state.usageNext ?? 10 * body.input.length;
      state.usageNext = undefined;
      res.end(
        JSON.stringify({
          object: 'list',
          // Out of order on purpose: the answer must follow the indexes, not the array order.
          data: body.input
            .map((_, index) => ({ object: 'embedding', index, embedding: Array.from({ length: dims }, (_, j) => index + j / 10) }))
            .reverse(),
          usage: tokens === 'none' ? undefined : { prompt_tokens: tokens, total_tokens: tokens },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    bodies,
    get failNext() {
      return state.failNext;
    },
    set failNext(v: number[]) {
      state.failNext = v;
    },
    get hangNext() {
      return state.hangNext;
    },
    set hangNext(n: number) {
      state.hangNext = n;
    },
    get usageNext() {
      return state.usageNext;
    },
    set usageNext(n: number | 'none' | undefined) {
      state.usageNext = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let recorder: Recorder;
let anthropic: Simulator;
let app: App;
let client: EmbeddingServiceClient;
let chatClient: ChatServiceClient;
let simApp: App;
let simClient: EmbeddingServiceClient;

beforeAll(async () => {
  [recorder, anthropic] = await Promise.all([startRecorder(), startSimulator({ latencyScale: 0 })]);
  const file = writeConfigFile(`providers:
  - { name: openai, kind: openai, base_url: "${recorder.url}", api_key_env: OPENAI_KEY }
  - { name: beta, kind: anthropic, base_url: "${anthropic.url}", api_key_env: BETA_KEY }
models:
  - { id: beta-claude, provider: beta, upstream_id: claude-test, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9 }
`);
  const base = {
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    HTTP_PORT: '0',
    RETRY_INITIAL_BACKOFF_MS: '5',
    RETRY_MAX_BACKOFF_MS: '20',
    DATABASE_URL: 'sqlite::memory:',
  };
  app = await startApp(
    loadConfig({
      ...base,
      CONFIG_FILE: file,
      SIMULATOR: 'off',
      RETRY_MAX_ATTEMPTS: '3',
      ATTEMPT_TIMEOUT_MS: '1000',
    }),
    pino({ level: 'silent' }),
    { OPENAI_KEY: 'k', BETA_KEY: 'b' },
  );
  simApp = await startApp(loadConfig({ ...base, SIMULATOR: 'on' }), pino({ level: 'silent' }), {});
  const credentials = grpc.credentials.createInsecure();
  client = new EmbeddingServiceClient(`127.0.0.1:${app.port}`, credentials);
  chatClient = new ChatServiceClient(`127.0.0.1:${app.port}`, credentials);
  simClient = new EmbeddingServiceClient(`127.0.0.1:${simApp.port}`, credentials);
});
afterAll(async () => {
  client?.close();
  chatClient?.close();
  simClient?.close();
  await Promise.all([app?.stop(100), simApp?.stop(100)]);
  await Promise.all([recorder?.close(), anthropic?.close()]);
});

const request = (req: Partial<EmbedRequest>): EmbedRequest => ({ model: '', inputs: [], dimensions: 0, tokenInputs: [], ...req });
const embed = (c: EmbeddingServiceClient, req: Partial<EmbedRequest>) => callUnary(c.embed.bind(c), request(req));
const embedError = (req: Partial<EmbedRequest>) => unaryError(client.embed.bind(client), request(req));

describe('Embed through the OpenAI provider', () => {
  it('sends the inputs and dimensions to /v1/embeddings and answers the vectors in input order, priced', async () => {
    const { response } = await embed(client, { model: 'text-embedding-3-large', inputs: ['alpha', 'beta'], dimensions: 3 });
    expect(recorder.bodies.at(-1)).toEqual({
      model: 'text-embedding-3-large',
      input: ['alpha', 'beta'],
      encoding_format: 'float',
      dimensions: 3,
    });
    expect(response.embeddings.map((e) => e.index)).toEqual([0, 1]);
    expect(response.embeddings[1]?.values.map((v) => Math.round(v * 10) / 10)).toEqual([1, 1.1, 1.2]);
    expect(response).toMatchObject({ model: 'text-embedding-3-large', provider: 'openai', dimensions: 3, simulated: false });
    expect(response.usage).toMatchObject({ promptTokens: 20, completionTokens: 0, totalTokens: 20 });
    // 20 tokens at $0.13 per million.
    expect(response.costUsd).toBeCloseTo(0.0000026, 12);
  });

  it('sends inputs past the 300,000 tokens OpenAI takes in one request in several requests, and answers every vector in input order', async () => {
    // 80 inputs of 5,000 tokens: 400,000 in all, each well within its own limit.
    const text = Array.from({ length: 5_000 }, () => 'hello').join(' ');
    const inputs = Array.from({ length: 80 }, (_, i) => `${i} ${text}`);
    const before = recorder.bodies.length;
    const { response } = await embed(client, { model: 'text-embedding-3-small', inputs, dimensions: 4 });
    const sent = recorder.bodies.slice(before).map((b) => b.input as string[]);
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.flat()).toEqual(inputs);
    // The recorder's vectors start with their index in the request they came in.
    expect(response.embeddings.map((e) => e.values[0])).toEqual(sent.flatMap((batch) => batch.map((_, k) => k)));
    expect(response.embeddings.map((e) => e.index)).toEqual(inputs.map((_, i) => i));
    expect(response.attempts).toHaveLength(sent.length);
    expect(response.usage).toMatchObject({ promptTokens: 800, totalTokens: 800 });
    // 800 tokens at $0.02 per million.
    expect(response.costUsd).toBeCloseTo(0.000016, 12);
  });

  it('retries a 503 and charges only the answered attempt', async () => {
    recorder.failNext = [503];
    const before = recorder.bodies.length;
    const { response } = await embed(client, { model: 'text-embedding-ada-002', inputs: ['retry me'] });
    expect(recorder.bodies.length - before).toBe(2);
    expect(response.attempts.map((a) => a.retry)).toEqual([0, 1]);
    expect(response.costUsd).toBeCloseTo(0.000001, 12);
  });

  it('charges a timed-out attempt its inputs and the retry its usage, and adds them up without float noise', async () => {
    recorder.hangNext = 1;
    const { response } = await embed(client, { model: 'text-embedding-3-large', inputs: ['alpha'] });
    expect(response.attempts.map((a) => a.retry)).toEqual([0, 1]);
    // The cut attempt: 'alpha' estimated at 5 tokens, $0.00000065; the answer: 10 tokens, $0.0000013.
    expect(response.attempts.map((a) => a.costUsd)).toEqual([6.5e-7, 0.0000013]);
    expect(response.costUsd).toBe(0.00000195);
  });

  it('charges an estimate, not a usage report no input could produce, as for chat', async () => {
    // 'tiny' is four characters: a billion tokens is a broken or hostile report, not a count.
    recorder.usageNext = 1_000_000_000;
    const { response } = await embed(client, { model: 'text-embedding-3-large', inputs: ['tiny'] });
    expect(response.usage?.promptTokens).toBeLessThan(100);
    expect(response.attempts[0]?.usageEstimated).toBe(true);
    expect(response.costUsd).toBeLessThan(0.00001);
  });

  // Many local OpenAI-compatible servers report no usage: the vectors were refused as a malformed
  // answer (a 502 after every retry) where a chat answer is charged the estimate.
  it('answers vectors whose upstream reports no usage, or counts that are no counts, charging the estimate', async () => {
    for (const usage of ['none', -5] as const) {
      recorder.usageNext = usage;
      const { response } = await embed(client, { model: 'text-embedding-3-large', inputs: [`no usage ${usage}`] });
      expect(response.embeddings).toHaveLength(1);
      expect(response.attempts).toHaveLength(1);
      expect(response.attempts[0]?.usageEstimated).toBe(true);
      expect(response.usage?.promptTokens).toBeGreaterThan(0);
      expect(response.costUsd).toBeGreaterThan(0);
    }
  });

  it('serves a repeated request from the response cache, without an upstream call or a cost', async () => {
    const req = { model: 'text-embedding-3-small', inputs: ['cache me', 'and me'], dimensions: 8 };
    const first = (await embed(client, req)).response;
    // Consulted and missed: set, as ChatResponse.cache is for a miss.
    expect(first.cache).toEqual({ hit: false, stale: false, ageSeconds: 0 });
    const calls = recorder.bodies.length;
    const again = (await embed(client, req)).response;
    expect(recorder.bodies.length).toBe(calls);
    expect(again.cache?.hit).toBe(true);
    expect(again.costUsd).toBe(0);
    expect(again.embeddings).toEqual(first.embeddings);
    // Other dimensions are another answer.
    await embed(client, { ...req, dimensions: 4 });
    expect(recorder.bodies.length).toBe(calls + 1);
  });

  it('refuses a model of a provider without embeddings, naming the provider', async () => {
    const err = await embedError({ model: 'beta-claude', inputs: ['x'] });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain('beta');
    expect(err.details).toContain('no embeddings API');
  });

  it('refuses a chat model with a clear error', async () => {
    const err = await embedError({ model: 'gpt-4o-mini', inputs: ['x'] });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain('is a chat model');
    // Where the caller can send it instead.
    expect(err.details).toContain('ChatService.Chat');
  });

  it('refuses an embedding model asked to chat, naming Embed, without calling it', async () => {
    const calls = recorder.bodies.length;
    const chat = () => chatClient.chat.bind(chatClient);
    const err = await unaryError(chat(), { model: 'Text-Embedding-3-Small', prompt: 'hi', messages: [] });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain('text-embedding-3-small is an embedding model');
    expect(err.details).toContain('EmbeddingService.Embed');
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['model']);
    const inChain = await unaryError(chatClient.fallback.bind(chatClient), {
      model: '',
      models: ['gpt-4o-mini', 'text-embedding-ada-002'],
      prompt: 'hi',
      messages: [],
    } as never);
    expect(inChain.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(inChain.details).toContain('text-embedding-ada-002 is an embedding model');
    expect(recorder.bodies.length).toBe(calls);
  });

  it('checks the request with field paths', async () => {
    expect((await embedError({ inputs: [] })).details).toContain('inputs');
    expect((await embedError({ inputs: ['ok', ' '] })).details).toContain('inputs[1]');
    expect((await embedError({ model: 'text-embedding-3-small', inputs: ['x'], dimensions: 5000 })).details).toContain('dimensions');
    expect((await embedError({ model: 'text-embedding-ada-002', inputs: ['x'], dimensions: 256 })).details).toContain('dimensions');
  });

  // Each of a million empty inputs was refused one by one after the count had refused them all:
  // seconds of the event loop, during which every other call waited.
  it('refuses a million empty inputs by their count, holding the loop little longer than decoding them', async () => {
    const bytes = EmbedRequest.encode(request({ inputs: Array.from({ length: 1_000_000 }, () => '') })).finish();
    const decodeMs = fastestMs(() => EmbedRequest.decode(bytes));
    let err: grpc.ServiceError | undefined;
    const bound = 3 * decodeMs + 150;
    const held = await calmestMs(
      () =>
        loopHeldMs(async () => {
          err = await unaryBytes(app.port, '/orchestrator.v1.EmbeddingService/Embed', bytes);
        }),
      bound,
    );
    expect(err && grpc.status[err.code]).toBe('INVALID_ARGUMENT');
    expect(err?.details.startsWith('invalid request: inputs: at most 256 inputs per call, got 1000000')).toBe(true);
    expect(held).toBeLessThan(bound);
  });
});

// As POST /v1/embeddings takes them: the same bounds, through the same checks, named by EmbedRequest's fields.
describe('Embed with token ids', () => {
  it('sends the ids upstream as they came, one vector per input, in input order', async () => {
    const tokenInputs = [{ ids: [9906, 1917] }, { ids: [15339, 1070, 2] }];
    const { response } = await embed(client, { model: 'text-embedding-3-small', tokenInputs, dimensions: 4 });
    expect(recorder.bodies.at(-1)).toEqual({
      model: 'text-embedding-3-small',
      input: [
        [9906, 1917],
        [15339, 1070, 2],
      ],
      encoding_format: 'float',
      dimensions: 4,
    });
    expect(response.embeddings.map((e) => e.index)).toEqual([0, 1]);
    expect(response.usage).toMatchObject({ promptTokens: 20, totalTokens: 20 });
  });

  it('refuses ids it cannot send, naming the input or the id', async () => {
    const refused = async (req: Partial<EmbedRequest>) => {
      const err = await embedError({ model: 'text-embedding-3-small', ...req });
      expect(err.code, JSON.stringify(req).slice(0, 80)).toBe(grpc.status.INVALID_ARGUMENT);
      return { fields: err.decoded.badRequest?.fieldViolations.map((v) => v.field), details: err.details };
    };
    expect((await refused({ tokenInputs: [{ ids: [1, 2] }, { ids: [] }] })).fields).toEqual(['token_inputs[1]']);
    expect((await refused({ tokenInputs: [{ ids: [1, 2] }, { ids: [1, -2] }] })).fields).toEqual(['token_inputs[1].ids[1]']);
    const long = await refused({ tokenInputs: [{ ids: [1] }, { ids: Array.from({ length: 8192 }, () => 1) }] });
    expect(long.fields).toEqual(['token_inputs[1]']);
    expect(long.details).toContain('at most 8191 tokens');
    const many = await refused({ tokenInputs: Array.from({ length: 257 }, () => ({ ids: [1] })) });
    expect(many.fields).toEqual(['token_inputs']);
    expect(many.details).toContain('at most 256 inputs');
    expect((await refused({ inputs: ['text'], tokenInputs: [{ ids: [1] }] })).fields).toEqual(['token_inputs']);
    // Listed with the request's other problems, as every refusal of a field is.
    const both = await refused({ model: 'text-embedding-ada-002', inputs: ['text', ' '], tokenInputs: [{ ids: [1] }], dimensions: 256 });
    expect(both.fields).toEqual(['token_inputs', 'inputs[1]', 'dimensions']);
    expect(both.details).toContain('set inputs or token_inputs, not both');
    // Past 2^53 an id cannot be read as a number: refused as bad input, as POST /v1/embeddings refuses it.
    expect((await refused({ tokenInputs: [{ ids: [2 ** 60] }] })).details).toContain('53 bits');
  });
});

describe('Embed in the ledger', () => {
  it('records each Embed call with its method and cost', async () => {
    const db = app.ledger.database()?.db;
    expect(db).toBeDefined();
    // The ledger writes off the call's path: wait for the rows.
    let rows: { method: string; cost_usd: number }[] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      rows = await db!
        .selectFrom('ledger_calls')
        .select(['method', 'cost_usd'])
        .where('method', '=', '/orchestrator.v1.EmbeddingService/Embed')
        .execute();
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => Number(r.cost_usd) > 0)).toBe(true);
  });

  it("records what an Embed cache hit saved: the first answer's cost at the embedding model's price", async () => {
    const req = { model: 'text-embedding-3-large', inputs: ['saved once', 'saved twice'] };
    const first = (await embed(client, req)).response;
    const hit = (await embed(client, req)).response;
    expect(hit.cache?.hit).toBe(true);
    expect(first.costUsd).toBeGreaterThan(0);
    await app.ledger.store?.flush();
    const rows = await app.ledger
      .database()!
      .db.selectFrom('ledger_calls')
      .select(['request_id', 'cache_hit', 'cost_usd', 'cost_saved_usd'])
      .where('request_id', 'in', [first.requestId, hit.requestId])
      .execute();
    const saved = rows.find((r) => r.request_id === hit.requestId);
    expect(saved).toMatchObject({ cache_hit: 1, cost_usd: 0 });
    expect(Number(saved?.cost_saved_usd)).toBeCloseTo(first.costUsd, 12);
  });
});

describe('Embed against the simulator', () => {
  it('answers deterministic unit vectors of the requested length, marked simulated', async () => {
    const first = (await embed(simClient, { inputs: ['same text', 'other text'], dimensions: 64 })).response;
    const again = (await embed(simClient, { inputs: ['same text'], dimensions: 64 })).response;
    expect(first).toMatchObject({ model: 'text-embedding-3-small', simulated: true, dimensions: 64 });
    const [a, b] = first.embeddings.map((e) => e.values);
    expect(a).toHaveLength(64);
    expect(Math.hypot(...(a ?? []))).toBeCloseTo(1, 4);
    expect(again.embeddings[0]?.values).toEqual(a);
    expect(b).not.toEqual(a);
  });

  // The answer to the most a call may ask (256 inputs of 3,072 values) is some 16 MB of JSON
  // floats: it was refused as over UPSTREAM_MAX_BODY_BYTES (4 MiB), a 502 for a valid request.
  it('answers as many vectors as a call may ask for, at the longest native length', async () => {
    const inputs = Array.from({ length: 256 }, (_, i) => `text number ${i}`);
    const { response } = await embed(simClient, { model: 'text-embedding-3-large', inputs });
    expect(response.embeddings).toHaveLength(256);
    expect(response.embeddings[255]?.values).toHaveLength(3072);
  });
});
