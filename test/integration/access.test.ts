import * as grpc from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HealthCheckResponse_ServingStatus } from '../../src/gen/grpc/health/v1/health.js';
import { CacheMode, ChatServiceClient } from '../../src/gen/orchestrator/v1/chat.js';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { listServices } from '../helpers/buf-curl.js';
import { Role, RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { decodeStatusDetails } from '../../src/cli/status-details.js';
import { periodsOf } from '../../src/access/budgets.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** The RetryInfo delay of a refusal, in milliseconds (NaN without RetryInfo). */
function retryDelayMs(decoded: ReturnType<typeof decodeStatusDetails>): number {
  const delay = decoded.retryInfo?.retryDelay;
  return delay ? delay.seconds * 1000 + delay.nanos / 1e6 : Number.NaN;
}

describe('API keys', () => {
  let h: Harness;
  beforeAll(async () => {
    const frank = `    - { name: frank, sha256: ${sha('frank-secret')}, allowed_models: ["gpt-4o-mini"] }\n`;
    const gwen = `    - { name: gwen, sha256: ${sha('gwen-secret')}, allowed_models: ["gpt-4-turbo", "gpt-4.1-nano"] }\n`;
    const hugo = `    - { name: hugo, sha256: ${sha('hugo-secret')}, allowed_models: ["gpt-3.5-turbo"] }\n`;
    const jack = `    - { name: jack, sha256: ${sha('jack-secret')}, limits: { tokens_per_minute: 10000 } }\n`;
    h = await startHarness({ env: { CONFIG_FILE: accessFile(frank + gwen + hugo + jack) } });
  });
  afterAll(async () => h.close());
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('accepts a key as Bearer authorization or as x-api-key', async () => {
    const viaBearer = await callUnary(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] }, { metadata: bearer('erin-secret') });
    expect(viaBearer.response.content.length).toBeGreaterThan(0);
    const viaHeader = await callUnary(
      chat(),
      { model: 'gpt-4o', prompt: 'hi', messages: [] },
      { metadata: { 'x-api-key': 'erin-secret' } },
    );
    expect(viaHeader.response.model).toBe('gpt-4o');
  });

  it('refuses a missing or unknown key with UNAUTHENTICATED', async () => {
    const missing = await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] });
    expect(missing.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(missing.decoded.errorInfo?.reason).toBe('API_KEY_INVALID');
    expect(missing.details).toMatch(/Bearer/);
    const wrong = await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] }, { metadata: bearer('mallory') });
    expect(wrong.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(wrong.details).toBe('unknown API key');
    const wrongHeader = await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] }, { metadata: { 'x-api-key': 'mallory' } });
    expect(wrongHeader.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(wrongHeader.decoded.errorInfo?.reason).toBe('API_KEY_INVALID');
    expect(wrongHeader.details).toBe('unknown API key');
    const models = await unaryError(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    expect(models.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('counts missing and unknown keys as UNAUTHENTICATED calls of their method on both doors, not as access rejections', async () => {
    const handled = async (protocol: string): Promise<number> => {
      const metrics = await (await fetch(h.app.metricsServer!.url)).text();
      return metrics
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('grpc_server_handled_total{') && l.includes('grpc_code="UNAUTHENTICATED"') && l.includes(`protocol="${protocol}"`),
        )
        .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    };
    const before = { grpc: await handled('grpc'), http: await handled('http') };
    await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] }, { metadata: bearer('mallory') });
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer mallory' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(401);
    expect({ grpc: (await handled('grpc')) - before.grpc, http: (await handled('http')) - before.http }).toEqual({ grpc: 1, http: 1 });
    const metrics = await (await fetch(h.app.metricsServer!.url)).text();
    expect(metrics).not.toMatch(/llm_orchestrator_access_rejections_total\{reason="API_KEY_INVALID"\}/);
    const { response: stats } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {}, { metadata: bearer('erin-secret') });
    expect(stats.accessRejections['API_KEY_INVALID']).toBeUndefined();
  });

  it('leaves health checks open', async () => {
    const { response } = await callUnary(h.clients.health.check.bind(h.clients.health), { service: '' });
    expect(response.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it.each(['grpc-v1', 'grpc-v1alpha'] as const)('leaves reflection open (%s ListServices without a key)', async (protocol) => {
    const services = await listServices(`127.0.0.1:${h.app.port}`, protocol);
    expect(services).toEqual(expect.arrayContaining(['orchestrator.v1.ChatService', 'grpc.health.v1.Health']));
  });

  it('ignores a principal the client sends itself', async () => {
    // The header that once carried the key's name from interceptor to handler.
    const PRINCIPAL_KEY = 'x-orchestrator-principal';
    // alice may not call gpt-4o; claiming to be erin changes nothing.
    const claimed = await unaryError(
      chat(),
      { model: 'gpt-4o', prompt: 'hi', messages: [] },
      { metadata: { ...bearer('alice-secret'), [PRINCIPAL_KEY]: 'erin' } },
    );
    expect(claimed.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(claimed.decoded.errorInfo?.metadata).toMatchObject({ key: 'alice' });
    const keyless = await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] }, { metadata: { [PRINCIPAL_KEY]: 'erin' } });
    expect(keyless.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('counts a routed call at max_tokens capped at the output limit of the models it may be routed to, as the call is made', async () => {
    // gpt-3.5-turbo writes at most 4,096 tokens: the call can use about 4,100 of jack's 10,000, not 20,000.
    const route = { profile: RoutingProfile.ROUTING_PROFILE_BALANCED, candidates: ['gpt-3.5-turbo'] };
    const outcome = await callUnary(
      chat(),
      { model: '', prompt: 'hi', messages: [], maxTokens: 20_000, route },
      { metadata: bearer('jack-secret') },
    ).then(
      ({ response }) => response.model,
      (err: grpc.ServiceError) => `${err.code}: ${err.details}`,
    );
    expect(outcome).toBe('gpt-3.5-turbo');
    // A ranking of the same route is admitted the same way.
    const ranked = await callUnary(
      h.clients.models.rankModels.bind(h.clients.models),
      { profile: route.profile, prompt: 'hi', candidates: route.candidates, maxTokens: 20_000 },
      { metadata: bearer('jack-secret') },
    ).then(
      ({ response }) => response.decision?.chosenModel,
      (err: grpc.ServiceError) => `${err.code}: ${err.details}`,
    );
    expect(ranked).toBe('gpt-3.5-turbo');
  });

  it('refuses models the key may not call with PERMISSION_DENIED', async () => {
    const denied = await unaryError(chat(), { model: 'gpt-4o', prompt: 'hi', messages: [] }, { metadata: bearer('alice-secret') });
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.decoded.errorInfo).toMatchObject({ reason: 'MODEL_NOT_ALLOWED', metadata: { key: 'alice', models: 'gpt-4o' } });
    const allowed = await callUnary(chat(), { model: 'gpt-3.5-turbo', prompt: 'hi', messages: [] }, { metadata: bearer('alice-secret') });
    expect(allowed.response.model).toBe('gpt-3.5-turbo');
  });

  it('routes a restricted key only to models it may call, and says so in the decision', async () => {
    const route = { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: [] };
    const { response } = await callUnary(
      chat(),
      { model: '', prompt: 'Prove the theorem step by step', messages: [], route },
      { metadata: bearer('frank-secret') },
    );
    expect(response.model).toBe('gpt-4o-mini');
    expect(response.routeDecision?.chosenModel).toBe('gpt-4o-mini');
    const ranking = response.routeDecision?.ranking ?? [];
    expect(ranking.filter((r) => r.eligible).map((r) => r.model)).toEqual(['gpt-4o-mini']);
    expect(ranking.find((r) => r.model === 'gpt-4o')).toMatchObject({ eligible: false, excludedReason: 'not allowed for this API key' });

    const ranked = await callUnary(
      h.clients.models.rankModels.bind(h.clients.models),
      { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, prompt: 'hi', candidates: [] },
      { metadata: bearer('frank-secret') },
    );
    expect(ranked.response.decision?.chosenModel).toBe('gpt-4o-mini');

    const denied = await unaryError(
      chat(),
      { model: '', prompt: 'hi', messages: [], route: { ...route, candidates: ['gpt-4o', 'gpt-4.1'] } },
      { metadata: bearer('frank-secret') },
    );
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.decoded.errorInfo).toMatchObject({ reason: 'MODEL_NOT_ALLOWED', metadata: { key: 'frank' } });
  });
  it('refuses a prompt too long for every model a restricted key may call as too long, as if they were the only candidates', async () => {
    // About 20,000 tokens and 4,000 to write: beyond gpt-3.5-turbo's 16k window, the one model hugo may call.
    const request = { model: '', prompt: 'x '.repeat(20_000), messages: [], maxTokens: 4_000 };
    const route = { profile: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT, candidates: [] };
    const keyed = await unaryError(chat(), { ...request, route }, { metadata: bearer('hugo-secret') });
    const explicit = await unaryError(
      chat(),
      { ...request, route: { ...route, candidates: ['gpt-3.5-turbo'] } },
      { metadata: bearer('erin-secret') },
    );
    expect(explicit.decoded.errorInfo?.reason).toBe('PROMPT_TOO_LONG');
    expect(keyed.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(keyed.decoded.errorInfo?.reason).toBe('PROMPT_TOO_LONG');
    expect(keyed.decoded.badRequest?.fieldViolations[0]?.field).toBe('messages');
  });

  it('refuses a route over every model whose models the key may call all lack what the request uses, on the candidates field', async () => {
    const image = {
      part: {
        $case: 'image' as const,
        image: { source: { $case: 'url' as const, url: 'https://example.com/a.png' }, mediaType: '', detail: '' },
      },
    };
    const messages = [{ role: Role.ROLE_USER, content: '', parts: [image], toolCalls: [], toolCallId: '' }];
    const route = { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: [] };
    const err = await unaryError(chat(), { model: '', prompt: '', messages, route }, { metadata: bearer('hugo-secret') });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([
      expect.objectContaining({ field: 'route.candidates', description: expect.stringContaining('gpt-3.5-turbo does not take images') }),
    ]);
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer hugo-secret' },
      body: JSON.stringify({
        model: 'route:speed',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }],
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('orchestrator.route.candidates');
  });

  it("ranks a restricted key's models as if they were the only candidates: models it may not call do not sway the choice", async () => {
    const rank = h.clients.models.rankModels.bind(h.clients.models);
    const request = { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, prompt: 'What is the capital of France?', candidates: [] };
    // The same live figures for both: RankModels calls nothing upstream.
    const explicit = await callUnary(
      rank,
      { ...request, candidates: ['gpt-4-turbo', 'gpt-4.1-nano'] },
      { metadata: bearer('erin-secret') },
    );
    const keyed = await callUnary(rank, request, { metadata: bearer('gwen-secret') });
    const eligible = (d: typeof keyed.response.decision) =>
      (d?.ranking ?? []).filter((r) => r.eligible).map((r) => ({ model: r.model, score: r.score, quality: r.quality, cost: r.cost }));
    expect(keyed.response.decision?.chosenModel).toBe(explicit.response.decision?.chosenModel);
    expect(eligible(keyed.response.decision)).toEqual(eligible(explicit.response.decision));
  });
});

describe('rate limits and budgets', () => {
  let h: Harness;
  beforeAll(async () => {
    const extra = [
      `    - { name: gina, sha256: ${sha('gina-secret')}, limits: { requests_per_minute: 2, tokens_per_minute: 1000 } }`,
      `    - { name: ivan, sha256: ${sha('ivan-secret')}, limits: { tokens_per_minute: 400 } }`,
      `    - { name: hank, sha256: ${sha('hank-secret')}, budgets: { usd_per_month: 0.00001 } }`,
      `    - { name: bess, sha256: ${sha('bess-secret')}, budgets: { usd_per_day: 0.001 } }`,
      `    - { name: kyle, sha256: ${sha('kyle-secret')}, allowed_models: ["gpt-4o-mini"], limits: { requests_per_minute: 2 } }`,
      `    - { name: nora, sha256: ${sha('nora-secret')}, limits: { tokens_per_minute: 100 } }`,
    ].join('\n');
    h = await startHarness({ env: { CONFIG_FILE: accessFile(`${extra}\n`) }, latencyScale: 0 });
  });
  afterAll(async () => h.close());
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('stops a key at exactly its requests per minute, with QuotaFailure, RetryInfo and pushback', async () => {
    for (let i = 0; i < 5; i++) {
      await callUnary(chat(), { model: 'gpt-4o-mini', prompt: `call ${i}`, messages: [] }, { metadata: bearer('alice-secret') });
    }
    const limited = await unaryError(
      chat(),
      { model: 'gpt-4o-mini', prompt: 'one too many', messages: [] },
      { metadata: bearer('alice-secret') },
    );
    expect(limited.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(limited.decoded.errorInfo?.reason).toBe('RATE_LIMITED');
    expect(limited.decoded.quotaFailure?.violations[0]).toMatchObject({ subject: 'key:alice', description: '5 requests per minute' });
    const retryMs = retryDelayMs(limited.decoded);
    expect(retryMs).toBeGreaterThan(0);
    expect(retryMs).toBeLessThanOrEqual(60_000);
    expect(Number(limited.metadata.get('grpc-retry-pushback-ms')[0])).toBeGreaterThan(0);
    // Another key is not affected.
    await callUnary(chat(), { model: 'gpt-4o-mini', prompt: 'still fine', messages: [] }, { metadata: bearer('erin-secret') });
  });

  it('takes no request from a key whose route names only models it may not call', async () => {
    const route = { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: ['gpt-4o', 'gpt-4.1'] };
    for (let i = 0; i < 3; i++) {
      const denied = await unaryError(chat(), { model: '', prompt: 'hi', messages: [], route }, { metadata: bearer('kyle-secret') });
      expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(denied.decoded.errorInfo).toMatchObject({ reason: 'MODEL_NOT_ALLOWED', metadata: { key: 'kyle', models: 'gpt-4o,gpt-4.1' } });
    }
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer kyle-secret');
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ prompt: 'hi', route }), metadata));
    expect(streamed.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    // Its two requests of the minute are still there for the model it may call.
    for (let i = 0; i < 2; i++) {
      await callUnary(chat(), { model: 'gpt-4o-mini', prompt: `allowed ${i}`, messages: [] }, { metadata: bearer('kyle-secret') });
    }
  });

  it('takes nothing from a key whose call was refused', async () => {
    // An estimate over the tokens per minute is refused; it must not use up the request or the tokens left.
    const big = await unaryError(
      chat(),
      { model: 'gpt-4o-mini', prompt: 'too big', messages: [], maxTokens: 5000 },
      { metadata: bearer('gina-secret') },
    );
    expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big.decoded.quotaFailure?.violations[0]?.description).toBe('1000 tokens per minute');
    // No minute admits it: no time to retry at, which a retrying client would wait for in vain.
    expect(big.message).toContain('request of an estimated 5005 tokens exceeds 1000 tokens per minute for key:gina');
    expect(big.decoded.retryInfo).toBeUndefined();
    expect(big.metadata.get('grpc-retry-pushback-ms')).toEqual(['-1']);
    for (let i = 0; i < 2; i++) {
      const { response } = await callUnary(
        chat(),
        { model: 'gpt-4o-mini', prompt: `small ${i}`, messages: [], maxTokens: 10 },
        { metadata: bearer('gina-secret') },
      );
      expect(response.content.length).toBeGreaterThan(0);
    }
    const third = await unaryError(
      chat(),
      { model: 'gpt-4o-mini', prompt: 'third', messages: [], maxTokens: 10 },
      { metadata: bearer('gina-secret') },
    );
    expect(third.decoded.quotaFailure?.violations[0]?.description).toBe('2 requests per minute');
  });

  it('tells a gRPC client with a retry policy not to retry a request no minute admits', async () => {
    const refusedChats = async (): Promise<number> => {
      const text = await (await fetch(h.app.metricsServer?.url ?? '')).text();
      const line =
        /grpc_server_handled_total\{grpc_service="orchestrator\.v1\.ChatService",grpc_method="Chat",[^}]*grpc_code="RESOURCE_EXHAUSTED"[^}]*\} (\d+)/.exec(
          text,
        );
      return Number(line?.[1] ?? 0);
    };
    const retrying = {
      methodConfig: [
        {
          name: [{ service: 'orchestrator.v1.ChatService' }],
          retryPolicy: {
            maxAttempts: 4,
            initialBackoff: '0.01s',
            maxBackoff: '0.01s',
            backoffMultiplier: 1,
            retryableStatusCodes: ['RESOURCE_EXHAUSTED'],
          },
        },
      ],
    };
    const client = new ChatServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.service_config': JSON.stringify(retrying),
    });
    try {
      const before = await refusedChats();
      const big = await unaryError(
        client.chat.bind(client),
        { model: 'gpt-4o-mini', prompt: 'too big', messages: [], maxTokens: 500 },
        { metadata: bearer('nora-secret') },
      );
      expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(big.decoded.errorInfo?.metadata['estimated_tokens']).toBeDefined();
      expect((await refusedChats()) - before).toBe(1);
      expect(big.metadata.get('grpc-retry-pushback-ms')).toEqual(['-1']);
    } finally {
      client.close();
    }
  });

  it('counts tokens per minute from actual usage, not from the estimate', async () => {
    // Estimated: 5 prompt tokens ("count me": 2 + 3 per message) + max_tokens 200 = 205.
    // Used: the same 5 + a 12-48 word answer. Each call gives back what it did not use, so
    // ivan (400 per minute) is admitted while actual usage + 205 fits: four calls or more.
    // Counting the estimate instead would stop him after one call (205 + 205 > 400).
    const estimate = 205;
    const used: number[] = [];
    let refused: grpc.ServiceError | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      await callUnary(
        chat(),
        { model: 'gpt-4o-mini', prompt: 'count me', messages: [], maxTokens: 200 },
        { metadata: bearer('ivan-secret') },
      ).then(
        ({ response }) => used.push(response.usage?.totalTokens ?? 0),
        (err: grpc.ServiceError) => (refused = err),
      );
    }
    const details = refused ? decodeStatusDetails(refused.metadata) : undefined;
    expect(details?.errorInfo?.reason).toBe('RATE_LIMITED');
    expect(details?.quotaFailure?.violations[0]?.description).toBe('400 tokens per minute');
    for (const tokens of used) expect(tokens).toBeLessThan(estimate / 3);
    const total = used.reduce((a, b) => a + b, 0);
    expect(used.length).toBeGreaterThanOrEqual(4);
    expect(total + estimate).toBeLessThanOrEqual(400 + Math.max(...used));
    expect(total + estimate).toBeGreaterThan(400);
  });

  it('stops a key whose daily budget is spent, charging exactly the cost of its answers, until midnight UTC', async () => {
    const { response } = await callUnary(chat(), { model: 'gpt-4o', prompt: 'spend', messages: [] }, { metadata: bearer('carol-secret') });
    expect(response.costUsd).toBeGreaterThan(0);
    const broke = await unaryError(chat(), { model: 'gpt-4o', prompt: 'spend more', messages: [] }, { metadata: bearer('carol-secret') });
    expect(broke.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(broke.decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    expect(Number(broke.decoded.errorInfo?.metadata['spent_usd'])).toBe(response.costUsd);
    expect(broke.decoded.quotaFailure?.violations[0]).toMatchObject({ subject: 'key:carol', description: 'budget usd_per_day 0.00001' });
    const expected = periodsOf(new Date()).msToNextDay;
    expect(Math.abs(retryDelayMs(broke.decoded) - expected)).toBeLessThan(60_000);
    // Hours away: a client's retry policy stops rather than wait inside the call.
    const pushback = Number(broke.metadata.get('grpc-retry-pushback-ms')[0]);
    if (expected > 61_000) expect(pushback).toBe(-1);
    else expect(pushback).toBeGreaterThanOrEqual(0);
  });

  it('stops a key whose monthly budget is spent, until the 1st of next month UTC', async () => {
    await callUnary(chat(), { model: 'gpt-4o', prompt: 'spend', messages: [] }, { metadata: bearer('hank-secret') });
    const broke = await unaryError(chat(), { model: 'gpt-4o', prompt: 'spend more', messages: [] }, { metadata: bearer('hank-secret') });
    expect(broke.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(broke.decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    expect(broke.decoded.quotaFailure?.violations[0]).toMatchObject({ subject: 'key:hank', description: 'budget usd_per_month 0.00001' });
    const expected = periodsOf(new Date()).msToNextMonth;
    expect(Math.abs(retryDelayMs(broke.decoded) - expected)).toBeLessThan(60_000);
  });

  it('holds each call in flight to its estimated maximum cost, so a parallel burst stops near the budget', async () => {
    // 200 parallel calls against a $0.001 daily budget all passed and spent about $0.062. Each
    // now holds (5 prompt + 60 answer tokens) at gpt-4o's $10 per million = $0.00065 while it runs.
    const maxCost = ((5 + 60) * 10) / 1e6;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        callUnary(chat(), { model: 'gpt-4o', prompt: `burst ${i}`, messages: [], maxTokens: 60 }, { metadata: bearer('bess-secret') }).then(
          ({ response }) => response.costUsd,
          (err: grpc.ServiceError) => decodeStatusDetails(err.metadata).errorInfo?.reason ?? String(err.code),
        ),
      ),
    );
    const costs = outcomes.filter((o): o is number => typeof o === 'number');
    const spent = costs.reduce((a, b) => a + b, 0);
    expect(outcomes.filter((o) => typeof o !== 'number').every((o) => o === 'BUDGET_EXHAUSTED')).toBe(true);
    expect(costs.length).toBeGreaterThanOrEqual(1);
    // Admitted while anything is left, holds included: the last call in overshoots by at most its own cost.
    expect(spent).toBeLessThanOrEqual(0.001 + maxCost);
  });

  it('charges a stream cut short by the client against the budget', async () => {
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 50, model: 'gpt-4o' });
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer dave-secret');
    const call = h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'stream then stop' }), metadata);
    call.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      let deltas = 0;
      call.on('data', (m: StreamChatResponse) => {
        if (m.event?.$case === 'delta' && ++deltas === 3) {
          call.cancel();
          resolve();
        }
      });
    });
    h.upstream.clearFaults();
    await h.upstream.waitForIdle(2_000);
    await new Promise((r) => setTimeout(r, 50));
    const broke = await unaryError(
      chat(),
      { model: 'gpt-4o', prompt: 'after the stream', messages: [] },
      { metadata: bearer('dave-secret') },
    );
    expect(broke.decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    const { response: stats } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {}, { metadata: bearer('erin-secret') });
    expect(stats.accessRejections['BUDGET_EXHAUSTED']).toBeGreaterThanOrEqual(1);
    expect(stats.accessRejections['RATE_LIMITED']).toBeGreaterThanOrEqual(1);
  });
});

describe('global limits', () => {
  let h: Harness;
  let file: string;
  beforeAll(async () => {
    // A sibling of api_keys: one allowance shared by every caller.
    file = accessFile('  global: { requests_per_minute: 3 }\n');
    h = await startHarness({ env: { CONFIG_FILE: file } });
  });
  afterAll(async () => h.close());
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('share one allowance between keys and refuse with QuotaFailure subject global', async () => {
    for (const key of ['erin-secret', 'alice-secret', 'erin-secret']) {
      await callUnary(chat(), { model: 'gpt-4o-mini', prompt: 'global', messages: [] }, { metadata: bearer(key) });
    }
    for (const key of ['alice-secret', 'erin-secret']) {
      const limited = await unaryError(chat(), { model: 'gpt-4o-mini', prompt: 'global', messages: [] }, { metadata: bearer(key) });
      expect(limited.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(limited.decoded.errorInfo).toMatchObject({ reason: 'RATE_LIMITED', metadata: { quota_subject: 'global' } });
      expect(limited.decoded.quotaFailure?.violations).toHaveLength(1);
      expect(limited.decoded.quotaFailure?.violations[0]).toMatchObject({ subject: 'global', description: '3 requests per minute' });
      expect(retryDelayMs(limited.decoded)).toBeGreaterThan(0);
      expect(limited.details).toBe('rate limit reached: 3 requests per minute for global');
    }
  });

  it('follow the config file on reload (SIGHUP): an unchanged limit keeps its count, a changed one applies at once', async () => {
    const call = () => callUnary(chat(), { model: 'gpt-4o-mini', prompt: 'global', messages: [] }, { metadata: bearer('erin-secret') });
    h.app.reloadKeys();
    await expect(call()).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    writeFileSync(file, readFileSync(file, 'utf8').replace('requests_per_minute: 3 }', 'requests_per_minute: 100 }'));
    h.app.reloadKeys();
    expect((await call()).response.content.length).toBeGreaterThan(0);
    writeFileSync(file, readFileSync(file, 'utf8').replace('requests_per_minute: 100 }', 'requests_per_minute: 1 }'));
    h.app.reloadKeys();
    await call();
    const limited = await unaryError(
      chat(),
      { model: 'gpt-4o-mini', prompt: 'global', messages: [] },
      { metadata: bearer('alice-secret') },
    );
    expect(limited.details).toBe('rate limit reached: 1 requests per minute for global');
  });
});

describe('response cache', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { CACHE_TTL_SECONDS: '1' } });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('answers a repeated deterministic request from the cache', async () => {
    const request = { model: 'gpt-4o', prompt: 'cache me', messages: [], temperature: 0 };
    const first = await callUnary(chat(), request);
    expect(first.response.cache).toMatchObject({ hit: false });
    const before = h.upstream.requests.length;
    const second = await callUnary(chat(), request);
    expect(h.upstream.requests.length).toBe(before);
    expect(second.response.cache).toMatchObject({ hit: true, stale: false });
    expect(second.response.content).toBe(first.response.content);
    expect(second.response.attempts).toHaveLength(0);
    expect(second.response.costUsd).toBe(0);
    const { response: stats } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(stats.cacheHits).toBeGreaterThanOrEqual(1);
    expect(stats.cacheMisses).toBeGreaterThanOrEqual(1);
  });

  it('keys an answer by its model and max_tokens: the same prompt to another model, or with another max_tokens, is answered afresh', async () => {
    const request = { model: 'gpt-4o', prompt: 'one cache entry per model', messages: [], temperature: 0, maxTokens: 8 };
    await callUnary(chat(), request);
    const other = await callUnary(chat(), { ...request, model: 'gpt-4o-mini' });
    expect(other.response.cache?.hit).toBe(false);
    expect(other.response.model).toBe('gpt-4o-mini');
    const longer = await callUnary(chat(), { ...request, maxTokens: 16 });
    expect(longer.response.cache?.hit).toBe(false);
    expect((await callUnary(chat(), request)).response.cache?.hit).toBe(true);
  });

  it('does not cache sampled requests unless asked, and can be bypassed', async () => {
    const sampled = { model: 'gpt-4o', prompt: 'sampled', messages: [], temperature: 0.7 };
    await callUnary(chat(), sampled);
    const again = await callUnary(chat(), sampled);
    expect(again.response.cache).toBeUndefined();
    const asked = { ...sampled, prompt: 'sampled but cached', cache: { mode: CacheMode.CACHE_MODE_USE, allowStale: false } };
    await callUnary(chat(), asked);
    expect((await callUnary(chat(), asked)).response.cache?.hit).toBe(true);
    const before = h.upstream.requests.length;
    const bypass = await callUnary(chat(), { ...asked, cache: { mode: CacheMode.CACHE_MODE_BYPASS, allowStale: false } });
    expect(bypass.response.cache?.hit).toBe(false);
    expect(h.upstream.requests.length).toBe(before + 1);
  });

  it('stores what a request that bypassed the cache got, for the next request to read', async () => {
    const request = { model: 'gpt-4o', prompt: 'stored by a bypass', messages: [], temperature: 0 };
    const bypassed = await callUnary(chat(), { ...request, cache: { mode: CacheMode.CACHE_MODE_BYPASS, allowStale: false } });
    const next = await callUnary(chat(), request);
    expect(next.response.cache).toMatchObject({ hit: true, stale: false });
    expect(next.response.content).toBe(bypassed.response.content);
  });

  it('expires entries after the TTL, and serves them stale only when every upstream fails and the caller allows it', async () => {
    const request = { model: 'gpt-4o-mini', prompt: 'remember me', messages: [], temperature: 0 };
    const fresh = await callUnary(chat(), request);
    await new Promise((r) => setTimeout(r, 1_100));
    const before = h.upstream.requests.length;
    const refreshed = await callUnary(chat(), request);
    expect(refreshed.response.cache?.hit).toBe(false);
    expect(h.upstream.requests.length).toBe(before + 1);

    await new Promise((r) => setTimeout(r, 1_100));
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4o-mini' });
    const refused = await unaryError(chat(), request);
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    const offline = await callUnary(chat(), { ...request, cache: { mode: CacheMode.CACHE_MODE_UNSPECIFIED, allowStale: true } });
    expect(offline.response.cache).toMatchObject({ hit: true, stale: true });
    expect(offline.response.content).toBe(fresh.response.content);
    expect(offline.response.attempts[0]?.reason).toBe('UPSTREAM_ERROR');
  });

  it('refuses CACHE_MODE_USE and allow_stale on a routed Chat, which never reads the cache, naming the field', async () => {
    const route = { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: [] };
    const routed = { model: '', prompt: 'hi', messages: [], route };
    const cases: [{ mode: CacheMode; allowStale: boolean }, string][] = [
      [{ mode: CacheMode.CACHE_MODE_USE, allowStale: false }, 'cache.mode'],
      [{ mode: CacheMode.CACHE_MODE_UNSPECIFIED, allowStale: true }, 'cache.allow_stale'],
    ];
    for (const [cache, field] of cases) {
      const err = await unaryError(chat(), { ...routed, cache });
      expect(err.code, field).toBe(grpc.status.INVALID_ARGUMENT);
      expect(
        err.decoded.badRequest?.fieldViolations.map((v) => v.field),
        field,
      ).toEqual([field]);
    }
    // "bypass" and refuse_stale hold anywhere.
    const bypass = { mode: CacheMode.CACHE_MODE_BYPASS, allowStale: false, refuseStale: true };
    expect((await callUnary(chat(), { ...routed, cache: bypass })).response.routeDecision).toBeDefined();
  });
});

describe('hardening', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { MAX_MESSAGE_BYTES: '2048' } });
  });
  afterAll(async () => h.close());

  it('refuses an oversized request with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'x'.repeat(5_000), messages: [] });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const ok = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'small', messages: [] });
    expect(ok.response.content.length).toBeGreaterThan(0);
  });

  it('sends the request id back on the statuses grpc-js sends by itself, as on every other failure', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const oversized = { model: 'gpt-4o', prompt: 'x'.repeat(5_000), messages: [] };
    const given = await unaryError(chat, oversized, { metadata: { 'x-request-id': 'too-big-1' } });
    expect(given.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(given.metadata.get('x-request-id')).toEqual(['too-big-1']);
    const generated = await unaryError(chat, oversized);
    expect(String(generated.metadata.get('x-request-id')[0])).toMatch(/^[0-9a-f-]{36}$/);
  });
});
