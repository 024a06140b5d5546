import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelTier, type RuntimeModelSpec } from '../../src/gen/orchestrator/v1/models.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

function spec(overrides: Partial<RuntimeModelSpec> = {}): RuntimeModelSpec {
  return {
    id: 'spec-model',
    provider: 'openai',
    upstreamId: 'gpt-4o-mini',
    aliases: [],
    fallbacks: [],
    family: '',
    tier: ModelTier.MODEL_TIER_UNSPECIFIED,
    ...overrides,
  };
}

describe('a RuntimeModelSpec as CreateModel and UpdateModel read it', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  const create = () => h.clients.models.createModel.bind(h.clients.models);
  const update = () => h.clients.models.updateModel.bind(h.clients.models);
  const listed = async (id: string) =>
    (await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false })).response.models.find(
      (m) => m.id === id,
    );

  it('an unknown tier (a number the proto does not define) is refused with INVALID_ARGUMENT naming model.tier, not read as medium', async () => {
    const unknown = 42 as ModelTier;
    const err = await unaryError(create(), { model: spec({ id: 'odd-tier', tier: unknown }) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const violation = err.decoded.badRequest?.fieldViolations.find((v) => v.field === 'model.tier');
    expect(violation?.description).toMatch(/MODEL_TIER_SMALL/);
    expect(await listed('odd-tier')).toBeUndefined();

    await callUnary(create(), { model: spec({ id: 'odd-tier', tier: ModelTier.MODEL_TIER_LARGE }) });
    const refused = await unaryError(update(), { model: spec({ id: 'odd-tier', tier: unknown }) });
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.decoded.badRequest?.fieldViolations.map((v) => v.field)).toContain('model.tier');
    expect((await listed('odd-tier'))?.tier).toBe(ModelTier.MODEL_TIER_LARGE);
  });

  it('UpdateModel without an id is INVALID_ARGUMENT naming model.id, as DeleteModel without one is, not NOT_FOUND', async () => {
    const err = await unaryError(update(), { model: spec({ id: '  ' }) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([expect.objectContaining({ field: 'model.id', description: 'required' })]);
  });

  it("an unknown tier is listed with the spec's other problems, as every problem of a runtime model is", async () => {
    const unknown = 42 as ModelTier;
    const err = await unaryError(create(), { model: spec({ id: 'odd-tier-2', provider: 'nowhere', quality: 2, tier: unknown }) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => v.field).sort()).toEqual(['model.provider', 'model.quality', 'model.tier']);
  });

  it('a max_output_tokens above the context_window is refused on CreateModel and UpdateModel, naming the model and both fields', async () => {
    const message = 'model "narrow": max_output_tokens (16000) exceeds context_window (8000)';
    const err = await unaryError(create(), { model: spec({ id: 'narrow', contextWindow: 8_000, maxOutputTokens: 16_000 }) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations).toEqual([{ field: 'model.max_output_tokens', description: message, reason: '' }]);
    expect(await listed('narrow')).toBeUndefined();

    await callUnary(create(), { model: spec({ id: 'narrow', contextWindow: 8_000, maxOutputTokens: 8_000 }) });
    const refused = await unaryError(update(), { model: spec({ id: 'narrow', contextWindow: 8_000, maxOutputTokens: 16_000 }) });
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.decoded.badRequest?.fieldViolations.map((v) => v.description)).toEqual([message]);
    expect((await listed('narrow'))?.maxOutputTokens).toBe(8_000);
  });

  it('every known tier is still taken, unspecified as medium', async () => {
    const tiers = [ModelTier.MODEL_TIER_UNSPECIFIED, ModelTier.MODEL_TIER_SMALL, ModelTier.MODEL_TIER_MEDIUM, ModelTier.MODEL_TIER_LARGE];
    for (const tier of tiers) {
      const model = (await callUnary(create(), { model: spec({ id: `tier-${tier}`, tier }) })).response.model;
      expect(model?.tier).toBe(tier === ModelTier.MODEL_TIER_UNSPECIFIED ? ModelTier.MODEL_TIER_MEDIUM : tier);
    }
  });

  it('a context_window under 4,096 with no max_output_tokens caps the default maximum output at the window: a max_tokens past it is refused, not sent upstream', async () => {
    const model = (await callUnary(create(), { model: spec({ id: 'small-window', contextWindow: 2_048 }) })).response.model;
    expect(model?.contextWindow).toBe(2_048);
    expect(model?.maxOutputTokens).toBe(2_048);
    const sent = h.upstream.requests.length;
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      model: 'small-window',
      prompt: 'hello',
      messages: [],
      maxTokens: 3_000,
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.decoded.badRequest?.fieldViolations.map((v) => [v.field, v.description])).toEqual([
      ['max_tokens', 'must be at most 2048 for small-window (got 3000)'],
    ]);
    expect(h.upstream.requests).toHaveLength(sent);
    const answer = (
      await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'small-window', prompt: 'hello', messages: [], maxTokens: 2_048 })
    ).response;
    expect(answer.model).toBe('small-window');
  });

  it('a context_window of 4,096 or more with no max_output_tokens keeps the default maximum output of 4,096', async () => {
    const model = (await callUnary(create(), { model: spec({ id: 'wide-window', contextWindow: 16_000 }) })).response.model;
    expect(model?.maxOutputTokens).toBe(4_096);
  });

  it('a max_output_tokens past 8,192 with no context_window widens the default window to it: ListModels never shows a window smaller than the maximum output', async () => {
    const model = (await callUnary(create(), { model: spec({ id: 'long-answers', maxOutputTokens: 10_000 }) })).response.model;
    expect(model?.maxOutputTokens).toBe(10_000);
    expect(model?.contextWindow).toBe(10_000);
    const shown = await listed('long-answers');
    expect([shown?.contextWindow, shown?.maxOutputTokens]).toEqual([10_000, 10_000]);
  });
});
