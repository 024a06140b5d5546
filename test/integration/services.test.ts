import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthCheckResponse_ServingStatus } from '../../src/gen/grpc/health/v1/health.js';
import { EmbeddingServiceClient } from '../../src/gen/orchestrator/v1/embedding.js';
import { ChatServiceClient } from '../../src/gen/orchestrator/v1/chat.js';
import { ModelKind, ModelTier } from '../../src/gen/orchestrator/v1/models.js';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, unaryError } from '../helpers/grpc-client.js';
import { streamRequest } from '../helpers/grpc-client.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('StatsService.GetStats', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('counts calls, attempts, tokens, cost, races and fallbacks from real traffic', async () => {
    const chat = h.clients.chat;
    await callUnary(chat.chat.bind(chat), { model: 'gpt-4o', prompt: 'one', messages: [] });
    await callUnary(chat.chat.bind(chat), { model: 'gpt-4o-mini', prompt: 'two', messages: [] });
    h.upstream.injectFault({ kind: 'http_error', status: 500, times: 1, model: 'gpt-4o' });
    await unaryError(chat.chat.bind(chat), { model: 'gpt-4o', prompt: 'three', messages: [] });
    await callUnary(chat.race.bind(chat), { model: '', prompt: 'race', messages: [], models: ['gpt-4o', 'gpt-4o-mini'] });
    h.upstream.injectFault({ kind: 'http_error', status: 500, times: 1, model: 'gpt-4o' });
    await callUnary(chat.fallback.bind(chat), { model: 'gpt-4o', prompt: 'fb', messages: [], models: [], disableDefaultMessage: false });
    await collectStream(chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'stream', messages: [] })));

    const { response: s } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(s.totalRequests).toBe(6);
    expect(s.successfulRequests).toBe(5);
    expect(s.failedRequests).toBe(1);
    expect(s.errorRate).toBeCloseTo(1 / 6, 5);
    expect(s.latency?.count).toBe(6);
    expect(s.latency?.p99Ms).toBeGreaterThan(0);
    expect(s.timeToFirstToken?.count).toBe(1);
    expect(s.raceWins).toBe(1);
    expect(s.fallbacksTriggered).toBe(1);
    expect(s.defaultMessagesServed).toBe(0);
    expect(s.methods.map((m) => [m.method, m.requests])).toEqual([
      ['Chat', 3],
      ['Fallback', 1],
      ['Race', 1],
      ['StreamChat', 1],
    ]);
    const model = (name: string) => s.models.find((m) => m.name === name);
    expect(model('gpt-4o')?.errors).toBe(2);
    expect(model('gpt-4o-mini')?.successes).toBeGreaterThanOrEqual(3);
    expect(s.providers.map((p) => p.name)).toEqual(['openai']);
    const upstreamTokens = s.models.reduce((n, m) => n + m.completionTokens, 0);
    expect(s.completionTokens).toBe(upstreamTokens);
    expect(s.completionTokens).toBeGreaterThan(0);
    expect(s.totalCostUsd).toBeGreaterThan(0);
    expect(s.uptimeSeconds).toBeGreaterThan(0);
  });

  it('counts a routed Chat whose first-ranked model failed in fallbacks_triggered, as a Fallback call', async () => {
    const read = async () => (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    const before = await read();
    h.upstream.injectFault({ kind: 'http_error', status: 500, times: 1 });
    const routed = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt: 'route me',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_BALANCED, candidates: ['gpt-4o', 'gpt-4o-mini'] },
    });
    expect(routed.response.attempts).toHaveLength(2);
    expect((await read()).fallbacksTriggered).toBe(before.fallbacksTriggered + 1);
  });

  it('does not count a Fallback that ended within its first model (the client cancelled) in fallbacks_triggered', async () => {
    const read = async () => (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    const fallbacks = (s: Awaited<ReturnType<typeof read>>) => s.methods.find((m) => m.method === 'Fallback')?.requests ?? 0;
    const fellBack = async () => {
      const text = await (await fetch(h.app.metricsServer?.url ?? '')).text();
      return Number(/^llm_orchestrator_fallback_calls_total\{result="fallback"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await read();
    const fellBackBefore = await fellBack();
    const sent = h.upstream.requests.length;
    h.upstream.injectFault({ kind: 'hang', times: 1, model: 'gpt-4o' });
    const chat = h.clients.chat;
    const call = chat.fallback(
      { model: '', prompt: 'cancel me', messages: [], models: ['gpt-4o', 'gpt-4o-mini'], disableDefaultMessage: false },
      () => undefined,
    );
    await eventually(
      async () => h.upstream.requests.length,
      (n) => n > sent,
    );
    call.cancel();
    const after = await eventually(read, (s) => fallbacks(s) > fallbacks(before));
    expect(fallbacks(after)).toBe(fallbacks(before) + 1);
    expect(h.upstream.requests.slice(sent).map((r) => r.model)).toEqual(['gpt-4o']);
    expect(after.fallbacksTriggered).toBe(before.fallbacksTriggered);
    expect(await fellBack()).toBe(fellBackBefore);
  });

  it('counts Embed as a request, as ChatService calls are, and no call of the other services', async () => {
    const before = (await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {})).response;
    const embed = new EmbeddingServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    await callUnary(embed.embed.bind(embed), { model: '', inputs: ['one'], dimensions: 0, tokenInputs: [] });
    embed.close();
    await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    const { response: s } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(s.totalRequests).toBe(before.totalRequests + 1);
    expect(s.latency?.count).toBe((before.latency?.count ?? 0) + 1);
    expect(s.methods.map((m) => m.method)).toEqual([...before.methods.map((m) => m.method), 'Embed'].sort());
  });
});

describe('ModelService.ListModels', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('lists the long-standing and current OpenAI models with limits and prices', async () => {
    const { response } = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    const ids = response.models.map((m) => m.id);
    for (const id of ['gpt-4o', 'gpt-4o-mini', 'gpt-4-turbo', 'gpt-3.5-turbo', 'gpt-4.1', 'gpt-5']) expect(ids).toContain(id);
    const turbo = response.models.find((m) => m.id === 'gpt-4-turbo');
    expect(turbo).toMatchObject({
      provider: 'openai',
      contextWindow: 128_000,
      maxOutputTokens: 4096,
      supportsStreaming: true,
      inputPricePerMillion: 10,
      outputPricePerMillion: 30,
      tier: ModelTier.MODEL_TIER_LARGE,
      fallbacks: ['gpt-4o-mini', 'gpt-3.5-turbo'],
      available: true,
      simulated: false,
    });
    const filtered = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: 'nobody', availableOnly: false });
    expect(filtered.response.models).toHaveLength(0);
  });

  it('lists the embedding models Embed serves, by kind, with their vector length and price', async () => {
    const { response } = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: 'openai', availableOnly: true });
    const ids = response.models.map((m) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => a.localeCompare(b)));
    expect(response.models.find((m) => m.id === 'text-embedding-3-large')).toMatchObject({
      kind: ModelKind.MODEL_KIND_EMBEDDING,
      dimensions: 3072,
      inputPricePerMillion: 0.13,
      outputPricePerMillion: 0,
      available: true,
    });
    expect(response.models.find((m) => m.id === 'gpt-4o')).toMatchObject({ kind: ModelKind.MODEL_KIND_CHAT, dimensions: 0 });
  });
});

describe('ModelInfo.supports_streaming', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = writeConfigFile(`models:
  - { id: no-stream-chat, provider: openai, upstream_id: gpt-4o-mini, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 2, family: n, tier: small, quality: 0.5, supports_streaming: false }
`);
    h = await startHarness({ env: { CONFIG_FILE: file } });
  });
  afterAll(async () => h.close());

  it('is informational: a model the config file marks false is listed so and still streams', async () => {
    const { response } = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    expect(response.models.find((m) => m.id === 'no-stream-chat')?.supportsStreaming).toBe(false);
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'no-stream-chat', prompt: 'hi' })));
    expect(streamed.error).toBeUndefined();
    expect(streamed.messages.at(-1)?.event?.$case).toBe('completed');
  });
});

describe('Health and draining', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ latencyScale: 1 });
  });
  afterAll(async () => h.close());

  it('reports SERVING per service, then NOT_SERVING and refuses new calls while draining', async () => {
    const check = (service: string) => callUnary(h.clients.health.check.bind(h.clients.health), { service });
    for (const service of ['', 'orchestrator.v1.ChatService', 'orchestrator.v1.ModelService', 'orchestrator.v1.StatsService']) {
      expect((await check(service)).response.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    const watch = h.clients.health.watch({ service: 'orchestrator.v1.ChatService' });
    const statuses: HealthCheckResponse_ServingStatus[] = [];
    watch.on('data', (m: { status: HealthCheckResponse_ServingStatus }) => statuses.push(m.status));
    watch.on('error', () => undefined);
    const watchEnd = new Promise<grpc.StatusObject>((resolve) => watch.on('status', resolve));

    // A stream in flight when shutdown starts finishes within the grace period.
    const call = h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'keep going', messages: [] }));
    const begun = new Promise((resolve) => call.once('data', resolve));
    const inflight = collectStream(call);
    // In flight for sure (a fixed pause let a loaded machine start the shutdown before the call arrived).
    await begun;
    const stopping = h.app.server.shutdown(3_000);
    await new Promise((r) => setTimeout(r, 20));
    const refused = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: '', prompt: 'late', messages: [] });
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.decoded.errorInfo?.reason).toBe('DRAINING');
    const finished = await inflight;
    expect(finished.status.code).toBe(grpc.status.OK);
    expect(finished.messages.at(-1)?.event?.$case).toBe('completed');
    await stopping;
    expect(statuses).toEqual([HealthCheckResponse_ServingStatus.SERVING, HealthCheckResponse_ServingStatus.NOT_SERVING]);
    // Never a clean end: a watcher that reconnects on UNAVAILABLE finds another replica.
    expect((await watchEnd).code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('drain delay', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DRAIN_DELAY_MS: '400' } });
  });
  afterAll(async () => h.close());

  it('keeps serving while health already says NOT_SERVING, then refuses', async () => {
    const stopping = h.app.server.shutdown(1_000);
    const health = await callUnary(h.clients.health.check.bind(h.clients.health), { service: '' });
    expect(health.response.status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    const during = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'still here', messages: [] });
    expect(during.response.content.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    const after = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'too late', messages: [] });
    expect(after.code).toBe(grpc.status.UNAVAILABLE);
    await stopping;
  });
});

describe('a connection during the drain', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { DRAIN_DELAY_MS: '0' } });
  });
  afterAll(async () => h.close());

  it('gets a GOAWAY with its DRAINING answer, so the client makes its next call over a new connection', async () => {
    const own = new ChatServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    });
    try {
      await callUnary(own.chat.bind(own), { model: 'gpt-4o-mini', prompt: 'hello', messages: [] });
      expect(own.getChannel().getConnectivityState(false)).toBe(grpc.connectivityState.READY);
      // A call still running holds the drain in its grace period.
      h.upstream.injectFault({ kind: 'delay', delayMs: 2_000, times: 1 });
      const running = callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'slow', messages: [] });
      await new Promise((r) => setTimeout(r, 200));
      const stopping = h.app.server.shutdown(10_000, 0);
      const refused = await unaryError(own.chat.bind(own), { model: 'gpt-4o-mini', prompt: 'late', messages: [] });
      expect(refused.decoded.errorInfo?.reason).toBe('DRAINING');
      await expect.poll(() => own.getChannel().getConnectivityState(false), { timeout: 1_000 }).not.toBe(grpc.connectivityState.READY);
      expect((await running).response.content.length).toBeGreaterThan(0);
      await stopping;
    } finally {
      own.close();
    }
  });
});
