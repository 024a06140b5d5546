import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptOutcome, Complexity, RoutingProfile, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { ModelKind } from '../../src/gen/orchestrator/v1/models.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('routed requests', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('Chat picks the model by profile and explains the decision', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt: 'What is the capital of France?',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: [] },
    });
    const decision = response.routeDecision;
    expect(decision?.profile).toBe(RoutingProfile.ROUTING_PROFILE_SPEED);
    expect(decision?.complexity).toBe(Complexity.COMPLEXITY_SIMPLE);
    expect(decision?.chosenModel).toBe(response.model);
    expect(decision?.ranking[0]?.model).toBe(response.model);
    expect(decision?.ranking[0]?.score).toBeGreaterThanOrEqual(decision?.ranking[1]?.score ?? 0);
    expect(decision?.promptTokens).toBeGreaterThan(5);
  });

  it('RankModels shows every score component: LONG_CONTEXT weighs the headroom, SPEED the time to first token', async () => {
    const rank = async (profile: RoutingProfile) =>
      (
        await callUnary(h.clients.models.rankModels.bind(h.clients.models), {
          profile,
          prompt: 'Name a colour.',
          candidates: ['gpt-3.5-turbo', 'gpt-4.1'],
          maxTokens: 4000,
        })
      ).response.decision!;
    const long = await rank(RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT);
    const byModel = new Map(long.ranking.map((r) => [r.model, r]));
    // With 4,000 tokens to write: gpt-4.1's window (about 1M tokens) against gpt-3.5-turbo's 16k.
    expect(byModel.get('gpt-4.1')!.contextHeadroom).toBeGreaterThan(byModel.get('gpt-3.5-turbo')!.contextHeadroom * 10);
    expect(byModel.get('gpt-4.1')!.context).toBe(1);
    expect(byModel.get('gpt-3.5-turbo')!.context).toBe(0);
    const speed = await rank(RoutingProfile.ROUTING_PROFILE_SPEED);
    for (const r of speed.ranking) {
      expect(r.expectedTtftMs).toBeGreaterThan(0);
      expect(r.ttft).toBeGreaterThanOrEqual(0);
      expect(r.ttft).toBeLessThanOrEqual(1);
    }
  });

  it('falls back to the next-ranked model when the first fails', async () => {
    const rank = await callUnary(h.clients.models.rankModels.bind(h.clients.models), {
      profile: RoutingProfile.ROUTING_PROFILE_BUDGET,
      prompt: 'hello',
      candidates: [],
    });
    const [first, second] = rank.response.decision?.ranking ?? [];
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: first!.model });
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt: 'hello',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_BUDGET, candidates: [] },
    });
    h.upstream.clearFaults();
    expect(response.model).toBe(second!.model);
    expect(response.attempts.map((a) => a.model)).toEqual([first!.model, second!.model]);
  });

  it('RankModels ranks differently for different profiles', async () => {
    const rank = async (profile: RoutingProfile) =>
      (
        await callUnary(h.clients.models.rankModels.bind(h.clients.models), {
          profile,
          prompt: 'Summarise this paragraph.',
          candidates: [],
        })
      ).response.decision;
    const quality = await rank(RoutingProfile.ROUTING_PROFILE_QUALITY);
    const budget = await rank(RoutingProfile.ROUTING_PROFILE_BUDGET);
    expect(quality?.chosenModel).not.toBe(budget?.chosenModel);
    expect(quality?.ranking.every((s) => s.eligible)).toBe(true);
    const q = quality?.ranking.find((s) => s.model === quality.chosenModel);
    const b = budget?.ranking.find((s) => s.model === budget.chosenModel);
    expect(b!.estimatedCostUsd).toBeLessThan(q!.estimatedCostUsd);
  });

  it('StreamChat follows the route and reports the decision in completed', async () => {
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({ prompt: 'hi', route: { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: ['gpt-4o', 'gpt-4o-mini'] } }),
      ),
    );
    expect(error).toBeUndefined();
    const completed = messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed');
    expect(completed.completed.routeDecision?.ranking.map((s) => s.model).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(completed.completed.model).toBe(completed.completed.routeDecision?.chosenModel);
  });

  it('counts decisions per profile and model in Stats', async () => {
    const decisions = async () => {
      const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
      return (profile: RoutingProfile, model: string) =>
        response.routing.find((r) => r.profile === profile && r.model === model)?.decisions ?? 0;
    };
    const route = (profile: RoutingProfile, candidates: string[]) =>
      callUnary(h.clients.chat.chat.bind(h.clients.chat), {
        model: '',
        prompt: 'Name a colour.',
        messages: [],
        route: { profile, candidates },
      });
    const { QUALITY, BUDGET } = { QUALITY: RoutingProfile.ROUTING_PROFILE_QUALITY, BUDGET: RoutingProfile.ROUTING_PROFILE_BUDGET };
    const before = await decisions();
    // Two candidates far apart in quality and price: quality picks gpt-5, budget gpt-4.1-nano.
    const picks = [
      await route(QUALITY, ['gpt-5', 'gpt-4.1-nano']),
      await route(QUALITY, ['gpt-5', 'gpt-4.1-nano']),
      await route(BUDGET, ['gpt-5', 'gpt-4.1-nano']),
    ];
    expect(picks.map((p) => p.response.model)).toEqual(['gpt-5', 'gpt-5', 'gpt-4.1-nano']);
    const after = await decisions();
    const delta = (profile: RoutingProfile, model: string) => after(profile, model) - before(profile, model);
    expect([delta(QUALITY, 'gpt-5'), delta(QUALITY, 'gpt-4.1-nano'), delta(BUDGET, 'gpt-4.1-nano'), delta(BUDGET, 'gpt-5')]).toEqual([
      2, 0, 1, 0,
    ]);
  });

  it('treats an unset profile as balanced', async () => {
    const rank = async (profile: RoutingProfile) =>
      (await callUnary(h.clients.models.rankModels.bind(h.clients.models), { profile, prompt: 'Name a colour.', candidates: [] })).response
        .decision;
    const [unset, balanced] = await Promise.all([
      rank(RoutingProfile.ROUTING_PROFILE_UNSPECIFIED),
      rank(RoutingProfile.ROUTING_PROFILE_BALANCED),
    ]);
    expect(unset?.profile).toBe(RoutingProfile.ROUTING_PROFILE_BALANCED);
    expect(unset?.ranking.map((s) => [s.model, s.score])).toEqual(balanced?.ranking.map((s) => [s.model, s.score]));
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt: 'Name a colour.',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_UNSPECIFIED, candidates: [] },
    });
    expect(response.routeDecision?.profile).toBe(RoutingProfile.ROUTING_PROFILE_BALANCED);
  });

  it('StreamChat falls back to the next-ranked model when the first fails before its first token', async () => {
    const route = { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: ['gpt-5', 'gpt-4.1-nano'] };
    const completedOf = async () => {
      const { messages, error } = await collectStream(h.clients.chat.streamChat(streamRequest({ prompt: 'Name a colour.', route })));
      expect(error).toBeUndefined();
      const last = messages.at(-1)?.event;
      if (last?.$case !== 'completed') throw new Error('the stream ended without completed');
      return last.completed;
    };
    const [first, second] = (await completedOf()).routeDecision?.ranking.map((s) => s.model) ?? [];
    h.upstream.injectFault({ kind: 'http_error', status: 503, model: first!, times: 1 });
    const completed = await completedOf();
    h.upstream.clearFaults();
    expect(completed.routeDecision?.chosenModel).toBe(first);
    expect(completed.model).toBe(second);
    expect(completed.fallbackTriggered).toBe(true);
    expect(completed.attempts.map((a) => [a.model, a.outcome])).toEqual([
      [first, AttemptOutcome.ATTEMPT_OUTCOME_FAILURE],
      [second, AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS],
    ]);
  });

  it('rejects a route together with a model, and a prompt too long for every candidate', async () => {
    const both = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      model: 'gpt-4o',
      prompt: 'x',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: [] },
    });
    expect(both.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(both.decoded.badRequest?.fieldViolations[0]?.field).toBe('model');
    const huge = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      // About 20,000 tokens in 40,000 characters: within the content limit, beyond the window.
      prompt: 'x '.repeat(20_000),
      messages: [],
      maxTokens: 4_000,
      route: { profile: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT, candidates: ['gpt-3.5-turbo'] },
    });
    expect(huge.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(huge.decoded.errorInfo?.reason).toBe('PROMPT_TOO_LONG');
  });
  it('refuses a candidate named twice (by id or alias) on Chat and RankModels alike, wherever it ranks', async () => {
    // o3 ranks last for BUDGET, below the fallback depth; gpt-4o, named as 4o too, near the top.
    for (const candidates of [
      ['gpt-4o-mini', 'gpt-4.1-nano', 'gpt-5-nano', 'gpt-3.5-turbo', 'o3', 'O3'],
      ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-nano', '4o'],
    ]) {
      const last = candidates.length - 1;
      const routed = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
        model: '',
        prompt: 'hi',
        messages: [],
        route: { profile: RoutingProfile.ROUTING_PROFILE_BUDGET, candidates },
      });
      expect(routed.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(routed.decoded.badRequest?.fieldViolations).toEqual([
        expect.objectContaining({ field: `route.candidates[${last}]`, description: expect.stringContaining('more than once') }),
      ]);
      const ranked = await unaryError(h.clients.models.rankModels.bind(h.clients.models), {
        profile: RoutingProfile.ROUTING_PROFILE_BUDGET,
        prompt: 'hi',
        candidates,
      });
      expect(ranked.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(ranked.decoded.badRequest?.fieldViolations[0]?.field).toBe(`candidates[${last}]`);
    }
  });
});

describe('a config file with several providers', () => {
  let alpha: Simulator;
  let beta: Simulator;
  let h: Harness;
  beforeAll(async () => {
    alpha = await startSimulator({ latencyScale: 0, apiKey: 'alpha-secret' });
    beta = await startSimulator({ latencyScale: 0 });
    const file = writeConfigFile(
      `providers:
  - { name: alpha, kind: openai, base_url: "${alpha.baseURL}", api_key_env: ALPHA_KEY }
  - { name: beta, kind: anthropic, base_url: "${beta.url}", api_key_env: BETA_KEY }
  - { name: gamma, kind: openai, base_url: "http://127.0.0.1:9/v1", api_key_env: GAMMA_KEY_NOT_SET }
include_builtin_models: false
models:
  - { id: alpha-small, provider: alpha, upstream_id: "alpha/small:1", aliases: [small], context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.5 }
  - { id: beta-large, provider: beta, upstream_id: claude-test, context_window: 200000, max_output_tokens: 4000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9 }
  - { id: gamma-x, provider: gamma, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 1, family: g, tier: medium, quality: 0.7 }
`,
    );
    h = await startHarness({
      noOpenAiShorthand: true,
      env: { CONFIG_FILE: file, DEFAULT_MODEL: 'alpha-small' },
      processEnv: { ALPHA_KEY: 'alpha-secret', BETA_KEY: 'beta-secret' },
    });
  });
  afterAll(async () => {
    await h.close();
    await alpha.close();
    await beta.close();
  });

  it('serves each model through its own provider, OpenAI-compatible and Anthropic', async () => {
    const small = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'SMALL', prompt: 'hi', messages: [] });
    expect(small.response).toMatchObject({ model: 'alpha-small', provider: 'alpha' });
    expect((alpha.requests.at(-1)?.body as { model: string } | undefined)?.model).toBe('alpha/small:1');
    const large = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'beta-large', prompt: 'hi', messages: [] });
    expect(large.response).toMatchObject({ model: 'beta-large', provider: 'beta' });
    expect(large.response.content).toContain('claude-test');
    expect(beta.requests.at(-1)?.model).toBe('claude-test');
    // Prices come from the file: 3 $/M in, 15 $/M out.
    const usage = large.response.usage!;
    expect(large.response.costUsd).toBeCloseTo((usage.promptTokens * 3 + usage.completionTokens * 15) / 1e6, 10);
  });

  it('streams from the Anthropic provider with usage', async () => {
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'beta-large', prompt: 'stream please' })),
    );
    expect(error).toBeUndefined();
    const completed = messages.at(-1)?.event;
    expect(completed?.$case === 'completed' && completed.completed.usage?.completionTokens).toBeGreaterThan(0);
  });

  it('lists the file models, skips the provider whose key is unset', async () => {
    const { response } = await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false });
    const chat = response.models.filter((m) => m.kind === ModelKind.MODEL_KIND_CHAT);
    expect(chat.map((m) => [m.id, m.provider, m.available])).toEqual([
      ['alpha-small', 'alpha', true],
      ['beta-large', 'beta', true],
      ['gamma-x', 'gamma', false],
    ]);
    // Embed's models are served by the provider named openai, which this file does not set up.
    const embedding = response.models.filter((m) => m.kind === ModelKind.MODEL_KIND_EMBEDDING);
    expect(embedding.map((m) => [m.id, m.available])).toEqual([
      ['text-embedding-3-large', false],
      ['text-embedding-3-small', false],
      ['text-embedding-ada-002', false],
    ]);
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gamma-x', prompt: 'hi', messages: [] });
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.decoded.errorInfo?.reason).toBe('MODEL_NOT_AVAILABLE');
  });

  it('routes across providers', async () => {
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt: 'Prove the theorem step by step and write the code:\n```py\nprint(1)\n```',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: ['alpha-small', 'beta-large', 'gamma-x'] },
    });
    expect(response.model).toBe('beta-large');
    expect(response.routeDecision?.ranking.find((s) => s.model === 'gamma-x')).toMatchObject({
      eligible: false,
      excludedReason: 'no provider configured',
    });
  });

  it('refuses a route none of whose candidates has a provider as naming that model does: FAILED_PRECONDITION, not a retry', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const err = await unaryError(chat, {
      model: '',
      prompt: 'hi',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_BALANCED, candidates: ['gamma-x'] },
    });
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.decoded.errorInfo?.reason).toBe('MODEL_NOT_AVAILABLE');
    expect(err.decoded.retryInfo).toBeUndefined();
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'route:balanced',
        messages: [{ role: 'user', content: 'hi' }],
        orchestrator: { route: { candidates: ['gamma-x'] } },
      }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(((await res.json()) as { error: { reason: string } }).error.reason).toBe('MODEL_NOT_AVAILABLE');
  });
});

describe('StreamChat with a route and a strategy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('refuses a route combined with a race', async () => {
    const { error } = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({
          prompt: 'x',
          strategy: StreamStrategy.STREAM_STRATEGY_RACE,
          route: { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: [] },
        }),
      ),
    );
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.decoded.badRequest?.fieldViolations.map((v) => v.field)).toContain('route');
  });
});
