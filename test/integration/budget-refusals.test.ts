import type * as grpc from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodsOf } from '../../src/access/budgets.js';
import { decodeStatusDetails } from '../../src/cli/status-details.js';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('budgets', () => {
  let h: Harness;
  let file: string;
  beforeAll(async () => {
    file = accessFile(
      `    - { name: rita, sha256: ${sha('rita-secret')}, budgets: { usd_per_day: 0.001 } }\n` +
        `    - { name: dora, sha256: ${sha('dora-secret')}, budgets: { usd_per_day: 0.0001 } }\n` +
        `    - { name: cora, sha256: ${sha('cora-secret')}, budgets: { usd_per_day: 0.00001 } }\n`,
    );
    h = await startHarness({ env: { CONFIG_FILE: file }, latencyScale: 0 });
  });
  afterAll(async () => h?.close());
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('hold routed calls to the dearest model the route may pick, so a parallel burst of them stops near the budget too', async () => {
    // Each routed call may be answered by gpt-4o: (5 prompt + 60 answer tokens) at $10 per million.
    const maxCost = ((5 + 60) * 10) / 1e6;
    const route = { profile: RoutingProfile.ROUTING_PROFILE_QUALITY, candidates: ['gpt-4o'] };
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        callUnary(
          chat(),
          { model: '', prompt: `burst ${i}`, messages: [], maxTokens: 60, route },
          { metadata: bearer('rita-secret') },
        ).then(
          ({ response }) => response.costUsd,
          (err: grpc.ServiceError) => decodeStatusDetails(err.metadata).errorInfo?.reason ?? String(err.code),
        ),
      ),
    );
    const costs = outcomes.filter((o): o is number => typeof o === 'number');
    expect(outcomes.filter((o) => typeof o !== 'number').every((o) => o === 'BUDGET_EXHAUSTED')).toBe(true);
    expect(costs.length).toBeGreaterThanOrEqual(1);
    expect(costs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(0.001 + maxCost);
  });

  it('refuse a key whose budget is spent even when the cache holds the answer: the check comes before the cache is read', async () => {
    const request = { model: 'gpt-4o', prompt: 'cached for cora', messages: [], temperature: 0, maxTokens: 20 };
    const first = await callUnary(chat(), request, { metadata: bearer('cora-secret') });
    expect(first.response.costUsd).toBeGreaterThan(0.00001);
    const refused = await callUnary(chat(), request, { metadata: bearer('cora-secret') }).then(
      () => undefined,
      (err: grpc.ServiceError) => decodeStatusDetails(err.metadata).errorInfo?.reason,
    );
    expect(refused).toBe('BUDGET_EXHAUSTED');
    // The answer is in the cache: a key with budget left gets it at no cost.
    const hit = await callUnary(chat(), request, { metadata: bearer('erin-secret') });
    expect(hit.response.cache).toMatchObject({ hit: true });
  });

  it('refused with the daily budget spent wait until midnight UTC, even when the monthly check refused for holds', async () => {
    // A slow call holds (4 + 5) tokens at $10 per million while it runs.
    h.upstream.injectFault({ kind: 'delay', delayMs: 4_000, model: 'gpt-4o', times: 1 });
    const slow = callUnary(chat(), { model: 'gpt-4o', prompt: 'b', messages: [], maxTokens: 5 }, { metadata: bearer('dora-secret') }).catch(
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    // This one spends past the daily budget.
    const { response } = await callUnary(chat(), { model: 'gpt-4o', prompt: 'spend', messages: [] }, { metadata: bearer('dora-secret') });
    expect(response.costUsd).toBeGreaterThanOrEqual(0.0001);
    // A monthly budget above what is spent but below it plus the slow call's hold (SIGHUP's reload).
    const month = response.costUsd + 0.000045;
    writeFileSync(file, readFileSync(file, 'utf8').replace('usd_per_day: 0.0001 }', `usd_per_day: 0.0001, usd_per_month: ${month} }`));
    h.app.reloadKeys();
    const refused = await callUnary(chat(), { model: 'gpt-4o', prompt: 'again', messages: [] }, { metadata: bearer('dora-secret') }).then(
      () => undefined,
      (err: grpc.ServiceError) => err,
    );
    const decoded = decodeStatusDetails(refused!.metadata);
    expect(decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
    expect(refused?.details).toContain('usd_per_day');
    const delay = decoded.retryInfo?.retryDelay;
    const ms = delay ? delay.seconds * 1000 + delay.nanos / 1e6 : Number.NaN;
    expect(Math.abs(ms - periodsOf(new Date()).msToNextDay)).toBeLessThan(60_000);
    await slow;
  }, 20_000);
});

describe('budgets of routed calls over every model', () => {
  let h: Harness;
  beforeAll(async () => {
    // The catalog also holds a very dear model whose provider has no key: no route can pick it.
    const file = accessFile(
      `    - { name: nora, sha256: ${sha('nora-secret')}, budgets: { usd_per_day: 0.01 } }
providers:
  - { name: elsewhere, kind: openai, base_url: "http://127.0.0.1:9/v1", api_key_env: ELSEWHERE_KEY_NOT_SET }
models:
  - { id: gilded-xl, provider: elsewhere, context_window: 128000, max_output_tokens: 4000, input_price_per_million: 5000, output_price_per_million: 5000, family: g, tier: large, quality: 0.99 }
`,
    );
    h = await startHarness({ env: { CONFIG_FILE: file }, latencyScale: 0 });
  });
  afterAll(async () => h?.close());

  it.each([
    ['every model', []],
    ['candidates naming it', ['gpt-4o-mini', 'gilded-xl']],
  ])(
    'hold a routed call over %s at the prices of the models the route could pick, not of one no provider serves',
    async (_, candidates) => {
      // A slow routed call holds (about 7 prompt + 100 answer tokens) at its price: about $0.53 at gilded-xl's
      // $5,000 per million, far past the $0.01 budget; well under a tenth of a cent at any served model's price.
      h.upstream.injectFault({ kind: 'delay', delayMs: 3_000, times: 1 });
      const route = { profile: RoutingProfile.ROUTING_PROFILE_BALANCED, candidates };
      const slow = callUnary(
        h.clients.chat.chat.bind(h.clients.chat),
        { model: '', prompt: 'Name a colour.', messages: [], maxTokens: 100, route },
        { metadata: bearer('nora-secret') },
      ).then(
        ({ response }) => response.model,
        (err: grpc.ServiceError) => err.details,
      );
      await new Promise((r) => setTimeout(r, 500));
      const other = await callUnary(
        h.clients.chat.chat.bind(h.clients.chat),
        { model: 'gpt-4o-mini', prompt: 'hi', messages: [], maxTokens: 10 },
        { metadata: bearer('nora-secret') },
      ).then(
        ({ response }) => response.model,
        (err: grpc.ServiceError) => `${decodeStatusDetails(err.metadata).errorInfo?.reason}: ${err.details}`,
      );
      expect(other).toBe('gpt-4o-mini');
      expect(await slow).not.toBe('gilded-xl');
    },
    20_000,
  );
});
