import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * The per-provider cap on upstream requests in flight: calls beyond it wait in a bounded queue,
 * a full queue or a deadline that comes first is RESOURCE_EXHAUSTED (PROVIDER_BUSY) with RetryInfo,
 * and a stream keeps its slot until it ends.
 */
const chat = (h: Harness, prompt: string, deadlineMs = 5_000) =>
  callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt, messages: [] }, { deadlineMs });
const chatError = (h: Harness, prompt: string, deadlineMs = 5_000) =>
  unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt, messages: [] }, { deadlineMs });

async function providerRow(h: Harness) {
  const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
  return response.providers.find((p) => p.name === 'openai');
}

describe('two slots and a queue of one', () => {
  let h: Harness;
  let peak = 0;
  beforeAll(async () => {
    h = await startHarness({ env: { UPSTREAM_MAX_IN_FLIGHT: '2', UPSTREAM_QUEUE_MAX: '1' } });
    h.upstream.onRequest(() => {
      peak = Math.max(peak, h.upstream.openRequests());
    });
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.upstream.clearFaults();
    peak = 0;
  });

  it('runs two, queues one, refuses the fourth with PROVIDER_BUSY and RetryInfo', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 500 });
    const calls = [0, 1, 2, 3].map((i) =>
      chat(h, `slot ${i}`).then(
        () => 'ok',
        (err: grpc.ServiceError) => err,
      ),
    );
    const results = await Promise.all(calls);
    const refused = results.filter((r): r is grpc.ServiceError => r !== 'ok');
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    expect(refused).toHaveLength(1);
    const err = await chatErrorOf(refused[0]);
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.decoded.errorInfo?.reason).toBe('PROVIDER_BUSY');
    expect(err.decoded.errorInfo?.metadata.why).toBe('queue_full');
    expect(err.details).toContain('provider "openai" is busy');
    expect(err.decoded.retryInfo?.retryDelay?.seconds ?? 0).toBeGreaterThanOrEqual(0);
    expect(Number(err.decoded.retryInfo?.retryDelay?.nanos ?? 0) + Number(err.decoded.retryInfo?.retryDelay?.seconds ?? 0)).toBeGreaterThan(
      0,
    );
    // The upstream never saw more than the cap at once.
    expect(peak).toBeLessThanOrEqual(2);

    const row = await providerRow(h);
    expect(row?.queueRejections).toBe(1);
    // An attempt refused a slot was never sent: GetStats counts it as skipped, as its answer lists it.
    expect(row?.skipped).toBe(1);
    expect(row?.queueWaits).toBe(1);
    expect(row?.inFlight).toBe(0);
    expect(row?.queued).toBe(0);
    const metrics = await (await fetch(`${h.app.metricsServer?.url}`)).text();
    expect(metrics).toMatch(/llm_orchestrator_upstream_rejected_total\{provider="openai"\} 1/);
    expect(metrics).toMatch(/llm_orchestrator_upstream_queue_wait_seconds_count\{provider="openai",outcome="admitted"\} 1/);
    // The attempts counter counts the refusal as skipped too, and its help says what such a skip is.
    expect(metrics).toMatch(/llm_orchestrator_upstream_attempts_total\{provider="openai",model="gpt-4o",outcome="skipped"\} 1/);
    const help = metrics.split('\n').find((l) => l.startsWith('# HELP llm_orchestrator_upstream_attempts_total '));
    expect(help).toContain('PROVIDER_BUSY');
  });

  it('refuses a queued call whose deadline comes before a slot, before the deadline', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 1_500, times: 2 });
    const busy = [chat(h, 'long 1'), chat(h, 'long 2')];
    await waitFor(() => h.upstream.openRequests() === 2);
    const started = Date.now();
    const err = await chatError(h, 'in a hurry', 400);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.decoded.errorInfo?.reason).toBe('PROVIDER_BUSY');
    expect(err.decoded.errorInfo?.metadata.why).toBe('deadline');
    await Promise.all(busy);
  });
});

describe('one slot, no queue', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { UPSTREAM_MAX_IN_FLIGHT: '1', UPSTREAM_QUEUE_MAX: '0' } });
  });
  afterAll(async () => h.close());

  it('a stream holds its slot until it ends, and a cancelled stream gives it back', async () => {
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 5, times: 1 });
    const stream = h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'a slow story' }));
    stream.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      stream.on('data', (m: StreamChatResponse) => {
        if (m.event?.$case === 'delta') resolve();
      });
    });
    const err = await chatError(h, 'while the stream runs');
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.decoded.errorInfo?.reason).toBe('PROVIDER_BUSY');
    expect((await providerRow(h))?.inFlight).toBe(1);
    // GET /v1/stats is GetStats in snake_case: the provider row shows the slot too.
    const overHttp = (await (await fetch(`${h.app.http!.url}/v1/stats`)).json()) as { providers: Record<string, unknown>[] };
    expect(overHttp.providers.find((p) => p.name === 'openai')).toMatchObject({ in_flight: 1, queued: 0 });

    stream.cancel();
    await h.upstream.waitForIdle(3_000);
    await waitFor(async () => (await providerRow(h))?.inFlight === 0);
    const { response } = await chat(h, 'after the stream');
    expect(response.content.length).toBeGreaterThan(0);
  });

  it('refuses a chat completion while the slot is taken with 429, code provider_busy and when to come back', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 1_000, times: 1 });
    const holder = chat(h, 'holds the slot');
    await waitFor(() => h.upstream.openRequests() === 1);
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'while it is taken' }] }),
    });
    expect(res.status).toBe(429);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'provider_busy', reason: 'PROVIDER_BUSY' });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers.get('retry-after-ms'))).toBe(error.retry_after_ms);
    await holder;
  });
});

describe('one slot, a queue of three', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { UPSTREAM_MAX_IN_FLIGHT: '1', UPSTREAM_QUEUE_MAX: '3' } });
  });
  afterAll(async () => h.close());

  it("a cancelled Batch's items waiting for the slot leave the queue at once: a later call gets the queue place and the next slot", async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 3_000, times: 1 });
    const before = h.upstream.requests.length;
    const holder = chat(h, 'holds the slot');
    await waitFor(() => h.upstream.openRequests() === 1);
    const items = [0, 1, 2].map((i) => ({ requestId: `queued-${i}`, request: { model: 'gpt-4o', messages: [], prompt: `queued ${i}` } }));
    const call = h.clients.chat.batch({ items, concurrency: 3 });
    const ended = collectStream(call);
    await waitFor(async () => (await providerRow(h))?.queued === 3);
    call.cancel();
    expect((await ended).error?.code).toBe(grpc.status.CANCELLED);
    await waitFor(async () => (await providerRow(h))?.queued === 0);
    // Had the cancelled items kept their places, the queue would be full and this call refused (PROVIDER_BUSY).
    const later = await chat(h, 'comes later');
    expect(later.response.content.length).toBeGreaterThan(0);
    await holder;
    const prompts = h.upstream.requests.slice(before).map((r) => (r.body as { messages: { content: string }[] }).messages.at(-1)?.content);
    expect(prompts).toEqual(['holds the slot', 'comes later']);
  });
});

describe('a fresh gateway whose first calls are all still running', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { UPSTREAM_MAX_IN_FLIGHT: '1', UPSTREAM_QUEUE_MAX: '2' } });
  });
  afterAll(async () => h.close());

  it('shows the provider in GetStats and GET /v1/stats with its requests in flight and queued, before any has ended', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 1_500, times: 1 });
    const calls = [chat(h, 'first of all'), chat(h, 'queued behind it')];
    await waitFor(async () => (await providerRow(h))?.queued === 1);
    const row = await providerRow(h);
    expect(row?.inFlight).toBe(1);
    expect(row?.requests).toBe(0);
    const stats = (await (await fetch(`${h.app.http?.url}/v1/stats`)).json()) as {
      providers: { name: string; in_flight: number; queued: number; requests: number }[];
    };
    expect(stats.providers.find((p) => p.name === 'openai')).toMatchObject({ in_flight: 1, queued: 1, requests: 0 });
    await Promise.all(calls);
    await waitFor(async () => (await providerRow(h))?.requests === 2);
    expect(await providerRow(h)).toMatchObject({ inFlight: 0, queued: 0 });
  });
});

async function chatErrorOf(err: grpc.ServiceError | undefined) {
  if (!err) throw new Error('expected a refused call');
  const { decodeStatusDetails } = await import('../../src/cli/status-details.js');
  return Object.assign(err, { decoded: decodeStatusDetails(err.metadata) });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
