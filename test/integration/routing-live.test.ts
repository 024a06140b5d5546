import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const PROMPT = 'Summarise this paragraph.';

async function rank(h: Harness, profile: RoutingProfile) {
  const { response } = await callUnary(h.clients.models.rankModels.bind(h.clients.models), { profile, prompt: PROMPT, candidates: [] });
  if (!response.decision) throw new Error('RankModels answered without a decision');
  return response.decision;
}

describe('routing follows live latency on the real traffic path', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a delay fault on the speed winner, seen by a few real calls, moves RankModels(SPEED)', async () => {
    const before = await rank(h, RoutingProfile.ROUTING_PROFILE_SPEED);
    const winner = before.chosenModel;
    const latencyOf = (decision: typeof before) => decision.ranking.find((s) => s.model === winner)!.expectedLatencyMs;
    // Wall-clock, not scaled: each answer from the winner now takes at least 3 s (the catalog says well under 1 s).
    h.upstream.injectFault({ kind: 'delay', delayMs: 3_000, model: winner, times: 3 });
    const calls = [1, 2, 3].map(() =>
      callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: winner, prompt: 'hello', messages: [] }),
    );
    for (const { response } of await Promise.all(calls)) expect(response.model).toBe(winner);
    h.upstream.clearFaults();
    const after = await rank(h, RoutingProfile.ROUTING_PROFILE_SPEED);
    expect(latencyOf(after)).toBeGreaterThan(latencyOf(before) * 1.5);
    expect(after.chosenModel).not.toBe(winner);
  });

  it("a caller's short deadline or a request the upstream refuses does not make a model less reliable", async () => {
    const model = 'gpt-4.1-mini';
    const reliability = async () =>
      (await rank(h, RoutingProfile.ROUTING_PROFILE_BALANCED)).ranking.find((s) => s.model === model)!.reliability;
    expect(await reliability()).toBe(1);
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    // The caller gives up after 200 ms on an answer that takes 2 s: its deadline, not the model's fault.
    h.upstream.injectFault({ kind: 'delay', delayMs: 2_000, model, times: 3 });
    for (let i = 0; i < 3; i++) {
      const err = await unaryError(chat, { model, prompt: `in a hurry ${i}`, messages: [] }, { deadlineMs: 200 });
      expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    }
    // The upstream refuses what this caller sent (400): the same request fails on any model.
    h.upstream.clearFaults();
    h.upstream.injectFault({ kind: 'http_error', status: 400, model, times: 3 });
    for (let i = 0; i < 3; i++) {
      const err = await unaryError(chat, { model, prompt: `refused ${i}`, messages: [] });
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    h.upstream.clearFaults();
    expect(await reliability()).toBe(1);
  });
});

describe('per-profile weights from the config file', () => {
  let plain: Harness;
  let weighted: Harness;
  beforeAll(async () => {
    // Budget that cares only about quality: the opposite of the default budget profile.
    const file = writeConfigFile(`routing:
  profiles:
    budget: { quality: 1, latency: 0, ttft: 0, cost: 0, reliability: 0, context: 0 }
`);
    [plain, weighted] = await Promise.all([startHarness(), startHarness({ env: { CONFIG_FILE: file } })]);
  });
  afterAll(async () => {
    await Promise.all([plain?.close(), weighted?.close()]);
  });

  it('change the ranking of that profile, and only that one', async () => {
    const budget = await rank(plain, RoutingProfile.ROUTING_PROFILE_BUDGET);
    const overridden = await rank(weighted, RoutingProfile.ROUTING_PROFILE_BUDGET);
    expect(overridden.chosenModel).not.toBe(budget.chosenModel);
    // Quality alone decides: the best catalog model (gpt-5, 0.96) leads, the cheapest no longer does.
    expect(overridden.chosenModel).toBe('gpt-5');
    expect(overridden.ranking[0]?.quality).toBe(1);
    const chosenCost = (d: typeof budget) => d.ranking.find((s) => s.model === d.chosenModel)!.estimatedCostUsd;
    expect(chosenCost(overridden)).toBeGreaterThan(chosenCost(budget));
    const quality = await Promise.all([plain, weighted].map((h) => rank(h, RoutingProfile.ROUTING_PROFILE_QUALITY)));
    expect(quality[1]?.ranking.map((s) => [s.model, s.score])).toEqual(quality[0]?.ranking.map((s) => [s.model, s.score]));
  });
});
