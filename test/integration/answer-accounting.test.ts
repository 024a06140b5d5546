import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorInfo } from '../../src/gen/google/rpc/error_details.js';
import { type BatchResponse, CacheMode, type StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { AttemptOutcome, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** What an answer says it cost and which calls it made, on the paths where that is easy to get wrong. */
const sum = (xs: readonly { costUsd: number }[]) => xs.reduce((a, b) => a + b.costUsd, 0);

describe('attempts and cost of an answer', () => {
  let h: Harness;
  beforeAll(async () => {
    // Every cached entry is stale at once; a hanging upstream is cut after a second (its prompt is charged).
    h = await startHarness({ env: { CACHE_TTL_SECONDS: '0', ATTEMPT_TIMEOUT_MS: '1000', CACHE_OFFLINE_FALLBACK: 'on' } });
  });
  afterAll(async () => h?.close());
  beforeEach(() => h.upstream.clearFaults());

  it('a stale cached answer costs what its failed attempts cost, on Chat and on Race', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const race = h.clients.chat.race.bind(h.clients.chat);
    const chatReq = {
      model: 'gpt-4o-mini',
      prompt: 'stale cost',
      messages: [],
      temperature: 0,
      cache: { mode: CacheMode.CACHE_MODE_USE, allowStale: true },
    };
    const raceReq = { model: '', prompt: 'stale race cost', messages: [], temperature: 0, models: ['gpt-4o-mini', 'gpt-3.5-turbo'] };
    await callUnary(chat, chatReq);
    await callUnary(race, raceReq);
    h.upstream.injectFault({ kind: 'hang' });
    for (const { response } of [await callUnary(chat, chatReq), await callUnary(race, raceReq)]) {
      expect(response.cache?.stale).toBe(true);
      expect(sum(response.attempts)).toBeGreaterThan(0);
      expect(response.costUsd).toBeCloseTo(sum(response.attempts), 12);
    }
  });

  it("a batch's summary covers every item, the failed ones that were charged too", async () => {
    // The second item hangs and is cut by ATTEMPT_TIMEOUT_MS: its prompt was sent and is charged.
    h.upstream.injectFault({ kind: 'hang', model: 'gpt-4o' });
    const items = [
      { requestId: 'ok', request: { model: 'gpt-4o-mini', prompt: 'fine', messages: [], maxTokens: 3 } },
      { requestId: 'hang', request: { model: 'gpt-4o', prompt: 'this one hangs upstream', messages: [] } },
    ];
    const call = h.clients.chat.batch({ items, concurrency: 2 });
    const res: BatchResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      call.on('data', (m: BatchResponse) => res.push(m));
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    let itemsCost = 0;
    for (const m of res) {
      if (m.event?.$case !== 'item') continue;
      const o = m.event.item.outcome;
      if (o?.$case === 'response') itemsCost += o.response.costUsd;
      if (o?.$case === 'error') {
        const info = o.error.details.find((d) => d.typeUrl.endsWith('ErrorInfo'));
        const cost = Number(info ? ErrorInfo.decode(info.value).metadata.cost_usd : 0);
        expect(cost).toBeGreaterThan(0);
        itemsCost += cost;
      }
    }
    const summary = res.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('no summary');
    expect(summary.summary.failed).toBe(1);
    expect(summary.summary.costUsd).toBeCloseTo(itemsCost, 12);
    // The call's record says the same: the failed item's charged attempts included.
    await h.app.ledger.store?.flush();
    const row = await h.app.ledger
      .database()!
      .db.selectFrom('ledger_calls')
      .select(['cost_usd', 'attempts'])
      .where('method', '=', '/orchestrator.v1.ChatService/Batch')
      .orderBy('ts', 'desc')
      .executeTakeFirst();
    expect(Number(row?.cost_usd)).toBeCloseTo(itemsCost, 12);
    expect(Number(row?.attempts)).toBeGreaterThanOrEqual(2);
  });
});

describe("a call's tokens", () => {
  let h: Harness;
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-tokens-')), 'ledger.db');
    // A hanging upstream is cut after a second: its prompt was sent and is charged.
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${file}`, LEDGER_FLUSH_MS: '20', ATTEMPT_TIMEOUT_MS: '1000' } });
  });
  afterAll(async () => h?.close());

  it("are every attempt's in the ledger, GetUsage and GetStats alike, as their cost is; the answer's usage is the answering attempt's", async () => {
    // Fallback: gpt-4o hangs and is cut (its prompt is charged), gpt-4o-mini answers.
    h.upstream.injectFault({ kind: 'hang', model: 'gpt-4o', times: 1 });
    const fell = await callUnary(h.clients.chat.fallback.bind(h.clients.chat), {
      model: '',
      prompt: 'the first model fails after being billed',
      messages: [],
      models: ['gpt-4o', 'gpt-4o-mini'],
      disableDefaultMessage: true,
    });
    // Race: gpt-4-turbo is slow to answer and loses once its prompt was sent.
    h.upstream.injectFault({ kind: 'delay', model: 'gpt-4-turbo', delayMs: 3000, times: 1 });
    const raced = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      model: '',
      prompt: 'a race with a loser that was billed',
      messages: [],
      models: ['gpt-4-turbo', 'gpt-4o-mini'],
    });
    const answers = [fell.response, raced.response];
    const attempts = answers.flatMap((a) => a.attempts);
    const billed = attempts.filter((a) => a.outcome !== AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS);
    expect(billed.map((a) => a.model)).toEqual(['gpt-4o', 'gpt-4-turbo']);
    expect(billed.every((a) => (a.usage?.promptTokens ?? 0) > 0 && a.costUsd > 0)).toBe(true);
    const tokens = (xs: readonly { usage?: { promptTokens: number; completionTokens: number } | undefined }[]): [number, number] => [
      xs.reduce((n, x) => n + (x.usage?.promptTokens ?? 0), 0),
      xs.reduce((n, x) => n + (x.usage?.completionTokens ?? 0), 0),
    ];
    for (const answer of answers) {
      const winner = answer.attempts.find((a) => a.outcome === AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS);
      expect(answer.usage).toMatchObject({ promptTokens: winner?.usage?.promptTokens, completionTokens: winner?.usage?.completionTokens });
      expect(answer.costUsd).toBeCloseTo(sum(answer.attempts), 12);
    }

    await h.app.ledger.store?.flush();
    const usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    try {
      const total = (await callUnary(usage.getUsage.bind(usage), { groupBy: [], pageSize: 0, pageToken: '' })).response.rows[0];
      const stats = (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
      const [prompt, completion] = tokens(attempts);
      expect([stats.promptTokens, stats.completionTokens]).toEqual([prompt, completion]);
      expect(total).toMatchObject({ requests: 2, promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion });
      expect(total?.costUsd).toBeCloseTo(stats.totalCostUsd, 12);
      expect(total?.costUsd).toBeCloseTo(sum(answers), 12);
    } finally {
      usage.close();
    }
  });
});

describe('a raced stream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ latencyScale: 1 });
  });
  afterAll(async () => h?.close());

  it('lists its attempts in start order, the winner first when it was first, though it ended last', async () => {
    // gpt-4o-mini, listed first, answers well before gpt-4-turbo.
    const call = h.clients.chat.streamChat(
      streamRequest({ prompt: 'hi', strategy: StreamStrategy.STREAM_STRATEGY_RACE, models: ['gpt-4o-mini', 'gpt-4-turbo'], maxTokens: 5 }),
    );
    const { messages, error } = await collectStream(call);
    expect(error).toBeUndefined();
    const last = messages.at(-1)?.event;
    if (last?.$case !== 'completed') throw new Error('no completed');
    expect(last.completed.model).toBe('gpt-4o-mini');
    expect(last.completed.attempts.map((a) => [a.model, a.outcome])).toEqual([
      ['gpt-4o-mini', AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS],
      ['gpt-4-turbo', AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED],
    ]);
  });
});

describe('the record of a call', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-accounting-')), 'ledger.db');
    const frank = `    - { name: frank, sha256: ${sha('frank-secret')}, allowed_models: ["gpt-4o-mini", "gpt-3.5-turbo"] }\n`;
    h = await startHarness({
      env: { CONFIG_FILE: accessFile(frank), DATABASE_URL: `sqlite:${file}`, LEDGER_CONTENT: 'full', LEDGER_FLUSH_MS: '20' },
    });
  });
  afterAll(async () => h?.close());

  it('of a restarted stream holds the answer that completed, not the partial one it dropped', async () => {
    h.upstream.injectFault({ kind: 'cut', model: 'gpt-4o-mini', afterTokens: 2, times: 1 });
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer frank-secret');
    const streamed = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({
          prompt: 'restart me',
          strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK,
          models: ['gpt-4o-mini', 'gpt-3.5-turbo'],
          restartOnFailure: true,
        }),
        md,
      ),
    );
    expect(streamed.error).toBeUndefined();
    const answer = (messages: StreamChatResponse[]) => {
      let text = '';
      for (const m of messages) {
        if (m.event?.$case === 'restarted') text = '';
        if (m.event?.$case === 'delta') text += m.event.delta.content;
      }
      return text;
    };
    expect(streamed.messages.some((m) => m.event?.$case === 'restarted')).toBe(true);
    await h.app.ledger.store?.flush();
    const rows = await h.app.ledger.database()!.db.selectFrom('ledger_calls').select(['method', 'answer']).orderBy('ts').execute();
    expect(rows.at(-1)).toEqual({ method: '/orchestrator.v1.ChatService/StreamChat', answer: answer(streamed.messages) });
  });

  it('of a Chat answered from the cache is no fallback, though the answer was cached by a Fallback call that fell back', async () => {
    const md = { metadata: { authorization: 'Bearer frank-secret' } };
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini', times: 1 });
    const prompt = 'cached by a fallback';
    const fell = await callUnary(
      h.clients.chat.fallback.bind(h.clients.chat),
      { model: '', prompt, messages: [], temperature: 0, models: ['gpt-4o-mini', 'gpt-3.5-turbo'], disableDefaultMessage: true },
      md,
    );
    expect(fell.response).toMatchObject({ modelUsed: 'gpt-3.5-turbo', fallbackTriggered: true });
    const hit = await callUnary(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-3.5-turbo', prompt, messages: [], temperature: 0 },
      md,
    );
    expect(hit.response.cache?.hit).toBe(true);
    await h.app.ledger.store?.flush();
    const rows = await h.app.ledger
      .database()!
      .db.selectFrom('ledger_calls')
      .select(['method', 'cache_hit', 'fallback_triggered'])
      .orderBy('ts')
      .execute();
    expect(rows.slice(-2)).toEqual([
      { method: '/orchestrator.v1.ChatService/Fallback', cache_hit: 0, fallback_triggered: 1 },
      { method: '/orchestrator.v1.ChatService/Chat', cache_hit: 1, fallback_triggered: 0 },
    ]);
  });

  it('of a Batch whose items the cache answered says what the cache saved, as the same calls one by one would', async () => {
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer frank-secret');
    const requests = ['saved one', 'saved two'].map((prompt) => ({ model: 'gpt-4o-mini', prompt, messages: [], temperature: 0 }));
    let missCost = 0;
    for (const request of requests) {
      const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), request, {
        metadata: { authorization: 'Bearer frank-secret' },
      });
      missCost += response.costUsd;
    }
    const items = requests.map((request, i) => ({ requestId: `saved-${i}`, request }));
    const call = h.clients.chat.batch({ items, concurrency: 2 }, md);
    const res: BatchResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      call.on('data', (m: BatchResponse) => res.push(m));
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    const hits = res.flatMap((m) =>
      m.event?.$case === 'item' && m.event.item.outcome?.$case === 'response' ? [m.event.item.outcome.response.cache?.hit] : [],
    );
    expect(hits).toEqual([true, true]);
    await h.app.ledger.store?.flush();
    const row = await h.app.ledger
      .database()!
      .db.selectFrom('ledger_calls')
      .select(['method', 'cost_usd', 'cost_saved_usd'])
      .orderBy('ts', 'desc')
      .executeTakeFirst();
    expect(row).toMatchObject({ method: '/orchestrator.v1.ChatService/Batch', cost_usd: 0 });
    expect(missCost).toBeGreaterThan(0);
    expect(row?.cost_saved_usd).toBeCloseTo(missCost, 10);
  });

  it('refused for its API key still carries its request id in the trailers', async () => {
    const md = new grpc.Metadata();
    md.set('x-request-id', 'auth-req-1');
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = h.clients.chat.chat({ model: 'gpt-4o', prompt: 'hi', messages: [] }, md, () => undefined);
      call.on('status', resolve);
    });
    expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(status.metadata.get('x-request-id')).toEqual(['auth-req-1']);
  });
});
