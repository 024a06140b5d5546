import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BatchItem, BatchResponse, ChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { Status } from '../../src/gen/google/rpc/status.js';
import { ErrorInfo } from '../../src/gen/google/rpc/error_details.js';
import { callUnary, collectStream } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { maxConcurrent } from '../helpers/overlap.js';
import { eventually } from '../helpers/eventually.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { BATCH_MAX_ITEMS: '10', BATCH_MAX_CONCURRENCY: '8', BATCH_GLOBAL_CONCURRENCY: '3' } });
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

const request = (fields: Partial<ChatRequest>): ChatRequest => ({ model: 'gpt-4o-mini', messages: [], prompt: 'batch item', ...fields });
const item = (requestId: string, fields: Partial<ChatRequest> = {}): BatchItem => ({ requestId, request: request(fields) });
const batch = (items: BatchItem[], concurrency?: number) =>
  collectStream<BatchResponse>(h.clients.chat.batch({ items, ...(concurrency === undefined ? {} : { concurrency }) }));

function itemsOf(messages: BatchResponse[]) {
  return messages.flatMap((m) => (m.event?.$case === 'item' ? [m.event.item] : []));
}

describe('Batch', () => {
  it('streams each result as it finishes, then a summary', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 300, model: 'gpt-4-turbo' });
    const { messages, error } = await batch([item('slow', { model: 'gpt-4-turbo' }), item('fast-1'), item('fast-2')], 3);
    expect(error).toBeUndefined();
    const results = itemsOf(messages);
    expect(results.map((r) => r.requestId).at(-1)).toBe('slow');
    expect(results.map((r) => r.index).sort()).toEqual([0, 1, 2]);
    for (const r of results) expect(r.outcome?.$case).toBe('response');
    const slow = results.find((r) => r.requestId === 'slow');
    expect(slow?.outcome?.$case === 'response' && slow.outcome.response.model).toBe('gpt-4-turbo');
    const summary = messages.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('no summary last');
    expect(summary.summary).toMatchObject({ total: 3, successful: 3, failed: 0 });
    expect(summary.summary.totalLatencyMs).toBeGreaterThanOrEqual(300);
    expect(summary.summary.averageLatencyMs).toBeGreaterThan(0);
    expect(summary.summary.usage?.completionTokens).toBeGreaterThan(0);
    expect(summary.summary.costUsd).toBeGreaterThan(0);
  });

  // Holding every result until the last item ended, in the order they ended, passed the test
  // above: what it checks (order, completedAt) does not say when the messages reached the caller.
  it("sums in its summary the tokens its items were charged: none for an item the cache answered, as the call's record", async () => {
    const cached = request({ prompt: 'a batch item the cache already holds', temperature: 0 });
    const { response: first } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), cached);
    const { messages, error } = await batch(
      [{ requestId: 'hit', request: cached }, item('miss', { prompt: 'a batch item not cached yet' })],
      1,
    );
    expect(error).toBeUndefined();
    const responses = itemsOf(messages).flatMap((r) => (r.outcome?.$case === 'response' ? [r.outcome.response] : []));
    const hit = responses.find((r) => r.requestId === 'hit');
    const miss = responses.find((r) => r.requestId === 'miss');
    expect(hit?.cache?.hit).toBe(true);
    expect(hit?.costUsd).toBe(0);
    expect(hit?.usage).toEqual(first.usage);
    const summary = messages.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('no summary last');
    expect(summary.summary.costUsd).toBe(miss?.costUsd);
    expect(summary.summary.usage).toEqual(miss?.usage);
    await h.app.ledger.store?.flush();
    const row = await h.app.ledger
      .database()!
      .db.selectFrom('ledger_calls')
      .select(['method', 'prompt_tokens', 'completion_tokens'])
      .orderBy('ts', 'desc')
      .executeTakeFirst();
    expect(row).toEqual({
      method: '/orchestrator.v1.ChatService/Batch',
      prompt_tokens: summary.summary.usage?.promptTokens,
      completion_tokens: summary.summary.usage?.completionTokens,
    });
  });

  it('sends a fast item to the caller while a slow one is still running', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 600, model: 'gpt-4-turbo' });
    const call = h.clients.chat.batch({ items: [item('slow', { model: 'gpt-4-turbo' }), item('fast')], concurrency: 2 });
    const arrived = new Map<string, number>();
    call.on('data', (m: BatchResponse) => {
      if (m.event?.$case === 'item') arrived.set(m.event.item.requestId, Date.now());
    });
    const { error } = await collectStream<BatchResponse>(call);
    expect(error).toBeUndefined();
    expect(arrived.get('slow')! - arrived.get('fast')!).toBeGreaterThanOrEqual(300);
  });

  it('names an item sent without a request id <call request id>/<index> on its answer', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'batch-call-7');
    const { messages, error } = await collectStream<BatchResponse>(
      h.clients.chat.batch({ items: [item('named'), item('')], concurrency: 2 }, metadata),
    );
    expect(error).toBeUndefined();
    const byIndex = new Map(itemsOf(messages).map((r) => [r.index, r]));
    const answerOf = (i: number) => {
      const outcome = byIndex.get(i)?.outcome;
      return outcome?.$case === 'response' ? outcome.response : undefined;
    };
    expect(answerOf(0)?.requestId).toBe('named');
    expect(answerOf(1)?.requestId).toBe('batch-call-7/1');
  });

  it("reports a failing item as that item's error and carries on", async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
    const { messages, error } = await batch([
      item('ok'),
      item('unknown', { model: 'gpt-nine' }),
      item('empty', { prompt: '' }),
      item('upstream', { model: 'gpt-4o' }),
    ]);
    expect(error).toBeUndefined();
    const byId = new Map(itemsOf(messages).map((r) => [r.requestId, r]));
    expect(byId.get('ok')?.outcome?.$case).toBe('response');
    const codeOf = (id: string) => {
      const outcome = byId.get(id)?.outcome;
      return outcome?.$case === 'error' ? outcome.error : undefined;
    };
    expect(codeOf('unknown')?.code).toBe(grpc.status.NOT_FOUND);
    expect(codeOf('empty')?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const upstream = codeOf('upstream');
    expect(upstream?.code).toBe(grpc.status.UNAVAILABLE);
    const info = upstream?.details.find((d) => d.typeUrl.endsWith('google.rpc.ErrorInfo'));
    expect(info && ErrorInfo.decode(info.value).reason).toBe('UPSTREAM_ERROR');
    expect(Status.encode(upstream!).finish().length).toBeGreaterThan(0);
    const summary = messages.at(-1)?.event;
    expect(summary?.$case === 'summary' && summary.summary).toMatchObject({ total: 4, successful: 1, failed: 3 });
  });

  it('averages the latency over the items that ran, not the items refused before any attempt', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 300, model: 'gpt-4o-mini' });
    const { messages, error } = await batch([item('ok'), item('unknown', { model: 'gpt-nine' }), item('empty', { prompt: '' })], 3);
    expect(error).toBeUndefined();
    const summary = messages.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('no summary last');
    expect(summary.summary).toMatchObject({ total: 3, successful: 1, failed: 2 });
    expect(summary.summary.averageLatencyMs).toBeGreaterThanOrEqual(300);
    expect(summary.summary.averageLatencyMs).toBeLessThanOrEqual(summary.summary.totalLatencyMs);
  });

  // An item's status travels inside a stream message, every problem listed: 300,000 empty
  // messages made one of 20 MB, past what gRPC clients take (4 MB), and the whole stream failed.
  // The 10,000 a request may hold still make about 700 KB of problems.
  it("reports an item with a problem in each of 10,000 messages as that item's error, its list bounded", async () => {
    const blank = { role: 3, content: '', parts: [], toolCalls: [], toolCallId: '' };
    const { messages, error } = await batch([
      item('many', { prompt: '', messages: Array.from({ length: 10_000 }, () => blank) }),
      item('ok'),
    ]);
    expect(error).toBeUndefined();
    const many = itemsOf(messages).find((r) => r.requestId === 'many');
    const status = many?.outcome?.$case === 'error' ? many.outcome.error : undefined;
    expect(status?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status?.message).toBe('invalid request: messages[0].content: must not be empty or only whitespace (and 9999 more)');
    expect(Status.encode(status!).finish().length).toBeLessThan(64 * 1024);
  });

  it('stamps each item with when it finished, answers and errors alike', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 300, model: 'gpt-4-turbo' });
    const before = Date.now();
    const { messages } = await batch([item('slow', { model: 'gpt-4-turbo' }), item('fast'), item('bad', { model: 'gpt-nine' })], 3);
    const after = Date.now();
    const at = new Map(
      itemsOf(messages).map((r) => [r.requestId, r.completedAt ? r.completedAt.seconds * 1000 + r.completedAt.nanos / 1e6 : undefined]),
    );
    for (const id of ['slow', 'fast', 'bad']) {
      expect(at.get(id)).toBeGreaterThanOrEqual(before - 1);
      expect(at.get(id)).toBeLessThanOrEqual(after + 1);
    }
    expect(at.get('slow')! - at.get('fast')!).toBeGreaterThanOrEqual(200);
  });

  it('refuses duplicate request ids, naming them', async () => {
    const { messages, error } = await batch([item('a'), item('b'), item('a'), item(''), item('')]);
    expect(messages).toHaveLength(0);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({ field: 'items[2].request_id', description: '"a" is already used by items[0]' }),
    ]);
  });

  it('refuses a request id a log or a header could not carry as one word, as x-request-id would be', async () => {
    const { messages, error } = await batch([item('ok-1'), item('two words'), item('x'.repeat(129)), item('line\nbreak'), item('é')]);
    expect(messages).toHaveLength(0);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual([
      'items[1].request_id',
      'items[2].request_id',
      'items[3].request_id',
      'items[4].request_id',
    ]);
    expect(error?.decoded.badRequest?.fieldViolations[0]?.description).toBe(
      '"two words" is not 1 to 128 visible ASCII characters without spaces (as x-request-id); set one that is, or none',
    );
  });

  it('enforces the item limit and the concurrency range', async () => {
    const tooMany = await batch(Array.from({ length: 11 }, (_, i) => item(`i${i}`)));
    expect(tooMany.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooMany.error?.decoded.badRequest?.fieldViolations[0]).toMatchObject({ field: 'items' });
    const empty = await batch([]);
    expect(empty.error?.decoded.badRequest?.fieldViolations[0]?.field).toBe('items');
    const wide = await batch([item('x')], 9);
    expect(wide.error?.decoded.badRequest?.fieldViolations[0]?.field).toBe('concurrency');
  });

  // Over the item limit, every item's request id was still compared and each repeat refused one
  // by one: for a 4 MiB request of a few hundred thousand items, most of a second of the event
  // loop spent spelling refusals, while every other call waited.
  it('refuses a batch over the item limit by its count, reading the request ids of its first items only', async () => {
    const { messages, error } = await batch(Array.from({ length: 200_000 }, (): BatchItem => ({ requestId: 'same', request: undefined })));
    expect(messages).toHaveLength(0);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    // The count, and the repeats among the first 32 items (31): the rest are not read.
    expect(error?.details).toBe('invalid request: items: at most 10 items per batch (got 200000) (and 31 more)');
    expect(error?.decoded.badRequest?.fieldViolations[1]).toMatchObject({
      field: 'items[1].request_id',
      description: '"same" is already used by items[0]',
    });
  });

  it('never has more than the process-wide limit of batch items at the upstream, across batches', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 100 });
    const before = h.upstream.requests.length;
    const items = (tag: string) => Array.from({ length: 5 }, (_, i) => item(`${tag}${i}`, { prompt: `batch ${tag}${i}` }));
    const [one, two] = await Promise.all([batch(items('a'), 5), batch(items('b'), 5)]);
    expect(one.error ?? two.error).toBeUndefined();
    const seen = h.upstream.requests.slice(before);
    expect(seen).toHaveLength(10);
    expect(maxConcurrent(seen)).toBe(3);
  });

  it('does not make interactive calls wait for batch slots', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 400, model: 'gpt-4o-mini' });
    const running = batch(
      Array.from({ length: 6 }, (_, i) => item(`busy${i}`)),
      6,
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'me first', messages: [] });
    expect(response.model).toBe('gpt-4o');
    expect(Date.now() - started).toBeLessThan(300);
    await running;
  });

  it('aborts every item still running when the call is cancelled', async () => {
    h.upstream.injectFault({ kind: 'hang' });
    const before = h.upstream.requests.length;
    const call = h.clients.chat.batch({ items: Array.from({ length: 6 }, (_, i) => item(`hang${i}`)), concurrency: 2 });
    const ended = collectStream(call);
    await new Promise((r) => setTimeout(r, 150));
    call.cancel();
    const { error } = await ended;
    expect(error?.code).toBe(grpc.status.CANCELLED);
    await h.upstream.waitForIdle(2_000);
    const seen = h.upstream.requests.slice(before);
    expect(seen).toHaveLength(2);
    expect(seen.every((r) => r.outcome === 'client_closed')).toBe(true);
    // The queued items never started.
    await new Promise((r) => setTimeout(r, 100));
    expect(h.upstream.requests.length - before).toBe(2);
  });

  it('gives a freed process-wide slot to a live batch, not to the items of a batch whose caller gave up', async () => {
    h.upstream.injectFault({ kind: 'hang', model: 'gpt-4o' });
    const withDeadline = (items: BatchItem[], ms: number) =>
      collectStream<BatchResponse>(h.clients.chat.batch({ items, concurrency: 3 }, new grpc.Metadata(), { deadline: Date.now() + ms }));
    // Holds all three process-wide slots until its deadline.
    const holder = withDeadline(
      Array.from({ length: 3 }, (_, i) => item(`hold${i}`, { model: 'gpt-4o', prompt: `hold ${i}` })),
      1_500,
    );
    await eventually(
      async () => h.upstream.requests.filter((r) => r.model === 'gpt-4o').length,
      (n) => n >= 3,
      5_000,
    );
    // Queued behind it; its caller gives up before any slot frees.
    const gaveUp = await withDeadline(
      Array.from({ length: 3 }, (_, i) => item(`gone${i}`, { prompt: `gone ${i}` })),
      200,
    );
    expect(gaveUp.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const started = Date.now();
    const live = await withDeadline([item('live')], 10_000);
    await holder;
    expect(live.error).toBeUndefined();
    expect(itemsOf(live.messages)[0]?.outcome?.$case).toBe('response');
    // It waited for the holder's slots, not for its own deadline.
    expect(Date.now() - started).toBeLessThan(6_000);
  });
});

describe('Batch at shutdown', () => {
  let s: Harness;
  beforeAll(async () => {
    s = await startHarness();
  });
  afterAll(async () => s.close());

  it('ends a batch the grace period cut OK, its finished items kept and every other item DRAINING', async () => {
    s.upstream.injectFault({ kind: 'hang', model: 'gpt-4o' });
    const call = s.clients.chat.batch({ items: [item('done'), item('hung', { model: 'gpt-4o' }), item('queued')], concurrency: 1 });
    const ended = collectStream<BatchResponse>(call);
    await eventually(async () => s.upstream.requests.some((r) => r.model === 'gpt-4o'), Boolean, 10_000);
    await s.app.server.shutdown(300);
    const { messages, error } = await ended;
    expect(error).toBeUndefined();
    const byId = new Map(itemsOf(messages).map((r) => [r.requestId, r.outcome]));
    expect(byId.get('done')?.$case).toBe('response');
    for (const id of ['hung', 'queued']) {
      const outcome = byId.get(id);
      if (outcome?.$case !== 'error') throw new Error(`${id}: no error`);
      expect(outcome.error.code).toBe(grpc.status.UNAVAILABLE);
      const info = outcome.error.details.find((d) => d.typeUrl.endsWith('google.rpc.ErrorInfo'));
      expect(info && ErrorInfo.decode(info.value).reason).toBe('DRAINING');
    }
    const summary = messages.at(-1)?.event;
    expect(summary?.$case === 'summary' && summary.summary).toMatchObject({ total: 3, successful: 1, failed: 2 });
  });
});
