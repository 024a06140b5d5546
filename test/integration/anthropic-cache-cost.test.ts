import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSource } from '../../src/gen/orchestrator/v1/models.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** 100 uncached prompt tokens, 100 read from Anthropic's prompt cache, 100 written to it; 5 out. */
const USAGE = { input_tokens: 100, cache_read_input_tokens: 100, cache_creation_input_tokens: 100 };
const OUTPUT = 5;
/**
 * At $1 input, $0.1 cached, $2 output per million: 100 x 1 + 100 x 0.1 + 100 x 1.25 (a cache write
 * is billed at 1.25 times the input price) + 5 x 2.
 */
const EXPECTED = (100 * 1 + 100 * 0.1 + 100 * 1.25 + OUTPUT * 2) / 1e6;
/** The same write split as Anthropic reports it: 40 tokens for five minutes, 60 for an hour. */
const SPLIT = { ephemeral_5m_input_tokens: 40, ephemeral_1h_input_tokens: 60 };
/** A write to the one-hour cache is billed at twice the input price. */
const EXPECTED_1H = (100 * 1 + 100 * 0.1 + 40 * 1.25 + 60 * 2 + OUTPUT * 2) / 1e6;

/** A model whose config entry names its own write price, $3 a million: five-minute (and unsplit) writes cost that. */
const EXPECTED_WRITE_PRICED = (100 * 1 + 100 * 0.1 + 100 * 3 + OUTPUT * 2) / 1e6;
/** Its one-hour writes still cost twice the input price, as Anthropic bills them. */
const EXPECTED_WRITE_PRICED_1H = (100 * 1 + 100 * 0.1 + 40 * 3 + 60 * 2 + OUTPUT * 2) / 1e6;

/** What the cut stream relayed before its connection was lost: 13 characters, 4 tokens at four a token. */
const RELAYED = 'cached answer';
/** The prompt as message_start reported it, priced as the other answers' prompts are, and the text relayed, estimated. */
const EXPECTED_CUT = (100 * 1 + 100 * 0.1 + 100 * 1.25 + 4 * 2) / 1e6;

const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** message_start with the prompt's usage, then some text, and no more: the connection is lost. */
function cutStream(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(
    event('message_start', {
      message: { id: 'msg', type: 'message', role: 'assistant', model: 'm-cut', content: [], usage: { ...USAGE, output_tokens: 1 } },
    }) +
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: RELAYED } }),
  );
  setTimeout(() => res.destroy(), 50);
}

/** The same, but the connection is lost after message_delta, which reported the answer's tokens, and before message_stop. */
function cutAfterDelta(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(
    event('message_start', {
      message: { id: 'msg', type: 'message', role: 'assistant', model: 'm-cut-late', content: [], usage: { ...USAGE, output_tokens: 1 } },
    }) +
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: RELAYED } }) +
      event('content_block_stop', { index: 0 }) +
      event('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: OUTPUT } }),
  );
  setTimeout(() => res.destroy(), 50);
}

function messagesBody(stream: boolean, upstreamModel: string): string {
  const usage = upstreamModel === 'm-1h' ? { ...USAGE, cache_creation: SPLIT } : USAGE;
  if (!stream) {
    return JSON.stringify({
      id: 'msg',
      type: 'message',
      role: 'assistant',
      model: 'm-1',
      content: [{ type: 'text', text: 'cached answer' }],
      stop_reason: 'end_turn',
      usage: { ...usage, output_tokens: OUTPUT },
    });
  }
  return (
    event('message_start', {
      message: { id: 'msg', type: 'message', role: 'assistant', model: 'm-1', content: [], usage: { ...usage, output_tokens: 1 } },
    }) +
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'cached answer' } }) +
    event('content_block_stop', { index: 0 }) +
    event('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: OUTPUT } }) +
    event('message_stop', {})
  );
}

describe("Anthropic's prompt cache in a call's cost", () => {
  let server: http.Server;
  let h: Harness;
  // Long enough for 300 prompt tokens to pass the usage check.
  const prompt = 'a long system prompt that the provider caches '.repeat(10);
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean; model: string };
        const stream = body.stream === true;
        if (stream && body.model === 'm-cut') return cutStream(res);
        if (stream && body.model === 'm-cut-late') return cutAfterDelta(res);
        res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
        res.end(messagesBody(stream, body.model));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = writeConfigFile(`providers:
  - { name: an, kind: anthropic, base_url: "${origin}", api_key_env: UP_KEY }
include_builtin_models: false
models:
  - { id: claude-test, provider: an, upstream_id: "m-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, cached_input_price_per_million: 0.1, output_price_per_million: 2, family: c, tier: small, quality: 0.5 }
  - { id: claude-cut, provider: an, upstream_id: "m-cut", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, cached_input_price_per_million: 0.1, output_price_per_million: 2, family: c, tier: small, quality: 0.5 }
  - { id: claude-cut-late, provider: an, upstream_id: "m-cut-late", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, cached_input_price_per_million: 0.1, output_price_per_million: 2, family: c, tier: small, quality: 0.5 }
  - { id: claude-1h, provider: an, upstream_id: "m-1h", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, cached_input_price_per_million: 0.1, output_price_per_million: 2, family: c, tier: small, quality: 0.5 }
  - { id: claude-priced, provider: an, upstream_id: "m-1", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, cached_input_price_per_million: 0.1, cache_write_price_per_million: 3, output_price_per_million: 2, family: c, tier: small, quality: 0.5 }
  - { id: claude-priced-1h, provider: an, upstream_id: "m-1h", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, cached_input_price_per_million: 0.1, cache_write_price_per_million: 3, output_price_per_million: 2, family: c, tier: small, quality: 0.5 }
`);
    h = await startHarness({
      noOpenAiShorthand: true,
      env: { CONFIG_FILE: file, DEFAULT_MODEL: 'claude-test' },
      processEnv: { UP_KEY: 'k' },
    });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it('prices cache writes at 1.25 times the input price: Chat and StreamChat, GetStats and the ledger agree', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'claude-test', prompt, messages: [] });
    expect(response.usage?.promptTokens).toBe(300);
    expect(response.usage?.cachedTokens).toBe(100);
    expect(response.costUsd).toBeCloseTo(EXPECTED, 12);

    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'claude-test', prompt })));
    expect(streamed.error).toBeUndefined();
    const completed = streamed.messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.costUsd).toBeCloseTo(EXPECTED, 12);

    const { response: stats } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(stats.totalCostUsd).toBeCloseTo(2 * EXPECTED, 12);

    await h.app.ledger.store?.flush();
    const rows = await h.app.ledger.database()!.db.selectFrom('ledger_calls').select(['cost_usd']).execute();
    expect(rows.map((r) => Number(r.cost_usd))).toEqual([expect.closeTo(EXPECTED, 12), expect.closeTo(EXPECTED, 12)]);
  });

  it('shows the cache writes in the usage of Chat, StreamChat and the OpenAI-compatible API, as part of the prompt tokens', async () => {
    const shown = { promptTokens: 300, completionTokens: OUTPUT, totalTokens: 300 + OUTPUT, cachedTokens: 100, cacheWriteTokens: 100 };
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'claude-test', prompt, messages: [] });
    expect(response.usage).toEqual({ ...shown, reasoningTokens: 0 });
    expect(response.attempts[0]?.usage?.cacheWriteTokens).toBe(100);

    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'claude-test', prompt })));
    const completed = streamed.messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.usage).toEqual({ ...shown, reasoningTokens: 0 });

    // OpenAI has no field for cache writes: they go where OpenRouter puts them.
    const client = new OpenAI({ baseURL: `${h.app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: prompt }];
    const wire = {
      prompt_tokens: 300,
      completion_tokens: OUTPUT,
      total_tokens: 300 + OUTPUT,
      prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
    expect((await client.chat.completions.create({ model: 'claude-test', messages })).usage).toEqual(wire);
    const stream = await client.chat.completions.create({
      model: 'claude-test',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage).toEqual(wire);
  });

  it('prices writes the usage reports as one-hour ones at twice the input price, in Chat and StreamChat', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'claude-1h', prompt, messages: [] });
    expect(response.usage?.promptTokens).toBe(300);
    expect(response.costUsd).toBeCloseTo(EXPECTED_1H, 12);

    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'claude-1h', prompt })));
    expect(streamed.error).toBeUndefined();
    const completed = streamed.messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.costUsd).toBeCloseTo(EXPECTED_1H, 12);
  });

  it("prices writes at a config-file model's cache_write_price_per_million, in Chat and StreamChat, and lists that price", async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'claude-priced', prompt, messages: [] });
    expect(response.usage?.cacheWriteTokens).toBe(100);
    expect(response.costUsd).toBeCloseTo(EXPECTED_WRITE_PRICED, 12);

    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'claude-priced', prompt })));
    const completed = streamed.messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.costUsd).toBeCloseTo(EXPECTED_WRITE_PRICED, 12);

    const split = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'claude-priced-1h', prompt, messages: [] });
    expect(split.response.costUsd).toBeCloseTo(EXPECTED_WRITE_PRICED_1H, 12);

    const { response: list } = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    const priced = list.models.find((m) => m.id === 'claude-priced');
    expect(priced?.cacheWritePricePerMillion).toBe(3);
    expect(priced?.provenance.find((p) => p.field === 'cache_write_price_per_million')?.source).toBe(CatalogSource.CATALOG_SOURCE_CONFIG);
    expect(list.models.find((m) => m.id === 'claude-test')?.cacheWritePricePerMillion).toBeUndefined();
  });

  it("charges a stream cut after message_start the upstream's prompt counts, cached and written, and the text relayed, estimated", async () => {
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'claude-cut', prompt })));
    expect(streamed.error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
    const metadata = streamed.error?.decoded.errorInfo?.metadata ?? {};
    expect(metadata['prompt_tokens']).toBe('300');
    expect(metadata['completion_tokens']).toBe('4');
    expect(Number(metadata['cost_usd'])).toBeCloseTo(EXPECTED_CUT, 12);

    await h.app.ledger.store?.flush();
    const attempts = await h.app.ledger
      .database()!
      .db.selectFrom('ledger_attempts')
      .select(['prompt_tokens', 'completion_tokens', 'usage_estimated', 'cost_usd'])
      .where('model', '=', 'claude-cut')
      .execute();
    expect(attempts).toEqual([
      { prompt_tokens: 300, completion_tokens: 4, usage_estimated: 1, cost_usd: expect.closeTo(EXPECTED_CUT, 12) },
    ]);
  });

  it("charges a stream cut after message_delta the upstream's counts of the prompt and of the answer, not an estimate", async () => {
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'claude-cut-late', prompt })));
    expect(streamed.error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
    const metadata = streamed.error?.decoded.errorInfo?.metadata ?? {};
    expect(metadata['prompt_tokens']).toBe('300');
    expect(metadata['completion_tokens']).toBe(String(OUTPUT));
    expect(Number(metadata['cost_usd'])).toBeCloseTo(EXPECTED, 12);

    await h.app.ledger.store?.flush();
    const attempts = await h.app.ledger
      .database()!
      .db.selectFrom('ledger_attempts')
      .select(['prompt_tokens', 'completion_tokens', 'usage_estimated', 'cost_usd'])
      .where('model', '=', 'claude-cut-late')
      .execute();
    expect(attempts).toEqual([
      { prompt_tokens: 300, completion_tokens: OUTPUT, usage_estimated: 0, cost_usd: expect.closeTo(EXPECTED, 12) },
    ]);
  });
});
