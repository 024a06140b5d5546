import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UpstreamStats } from '../../src/gen/orchestrator/v1/stats.js';
import { AttemptOutcome } from '../../src/gen/orchestrator/v1/common.js';
import { accessFile, sha } from '../helpers/access-file.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { eventually } from '../helpers/eventually.js';

/**
 * A unary call we abort (the caller's cancel or deadline, a lost race) was sent and its prompt
 * processed upstream: its attempt is charged the estimated prompt tokens and their cost, so
 * GetStats (and budgets) see them, as they see the partial usage of a cut stream.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.clearFaults());

async function rowOf(model: string): Promise<UpstreamStats | undefined> {
  const { response } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
  return response.models.find((m) => m.name === model);
}

describe('usage of aborted unary attempts', () => {
  it('charges the prompt of a Chat the client cancelled while the model was still working', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 30_000, model: 'gpt-4o' });
    const before = await rowOf('gpt-4o');
    const upstreamBefore = h.upstream.requests.length;
    const call = h.clients.chat.chat({ model: 'gpt-4o', prompt: 'a question the model will never finish', messages: [] }, () => undefined);
    // Cancel only once the request reached the upstream.
    await eventually(
      async () => h.upstream.requests.length,
      (n) => n > upstreamBefore,
    );
    call.cancel();

    const after = await eventually(
      () => rowOf('gpt-4o'),
      (row) => (row?.cancelled ?? 0) > (before?.cancelled ?? 0),
    );
    expect((after?.cancelled ?? 0) - (before?.cancelled ?? 0)).toBe(1);
    expect((after?.promptTokens ?? 0) - (before?.promptTokens ?? 0)).toBeGreaterThan(0);
    expect((after?.completionTokens ?? 0) - (before?.completionTokens ?? 0)).toBe(0);
    expect((after?.costUsd ?? 0) - (before?.costUsd ?? 0)).toBeGreaterThan(0);
    await h.upstream.waitForIdle(2_000);
    expect(h.upstream.requests.slice(upstreamBefore).map((r) => r.outcome)).toEqual(['client_closed']);
  });

  it('charges the prompt of a Chat whose deadline ran out', async () => {
    h.upstream.injectFault({ kind: 'hang', model: 'gpt-4o' });
    const before = await rowOf('gpt-4o');
    const err = await unaryError(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o', prompt: 'too slow', messages: [] },
      { deadlineMs: 300 },
    );
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const after = await eventually(
      () => rowOf('gpt-4o'),
      (row) => (row?.requests ?? 0) > (before?.requests ?? 0),
    );
    expect((after?.promptTokens ?? 0) - (before?.promptTokens ?? 0)).toBeGreaterThan(0);
    expect((after?.costUsd ?? 0) - (before?.costUsd ?? 0)).toBeGreaterThan(0);
    await h.upstream.waitForIdle(2_000);
  });

  it('charges the prompt of a race loser, in the answer and in the stats', async () => {
    h.upstream.injectFault({ kind: 'delay', delayMs: 30_000, model: 'gpt-4-turbo' });
    const before = await rowOf('gpt-4-turbo');
    const { response } = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      model: '',
      prompt: 'who wins',
      messages: [],
      models: ['gpt-4-turbo', 'gpt-4o-mini'],
    });
    expect(response.model).toBe('gpt-4o-mini');
    const loser = response.attempts.find((a) => a.model === 'gpt-4-turbo');
    expect(loser?.outcome).toBe(AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED);
    expect(loser?.usage?.promptTokens).toBeGreaterThan(0);
    expect(loser?.usage?.completionTokens).toBe(0);
    expect(loser?.costUsd).toBeGreaterThan(0);
    // The loser's usage is our estimate; the winner's is what the upstream reported.
    expect(loser?.usageEstimated).toBe(true);
    expect(response.attempts.find((a) => a.model === 'gpt-4o-mini')?.usageEstimated).toBe(false);
    // The call's cost includes what the loser's prompt cost.
    expect(response.costUsd).toBeGreaterThan(response.attempts.find((a) => a.model === 'gpt-4o-mini')?.costUsd ?? 0);
    const after = await rowOf('gpt-4-turbo');
    expect((after?.promptTokens ?? 0) - (before?.promptTokens ?? 0)).toBe(loser?.usage?.promptTokens);
    expect((after?.costUsd ?? 0) - (before?.costUsd ?? 0)).toBeCloseTo(loser?.costUsd ?? 0, 10);
    await h.upstream.waitForIdle(2_000);
  });

  it('still charges nothing for an upstream error that produced nothing', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o' });
    const err = await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'refused', messages: [] });
    expect(err.decoded.errorInfo?.metadata['prompt_tokens']).toBe('0');
    expect(err.decoded.errorInfo?.metadata['cost_usd']).toBe('0');
  });
});

describe('usage of an answer whose connection was cut mid-answer', () => {
  // Any spend at all exhausts cora's budget, so her next call says whether the cut one was charged.
  let k: Harness;
  beforeAll(async () => {
    k = await startHarness({
      env: { CONFIG_FILE: accessFile(`    - { name: cora, sha256: ${sha('cora-secret')}, budgets: { usd_per_day: 0.000000001 } }\n`) },
    });
  });
  afterAll(async () => k?.close());
  const cora = { metadata: { authorization: 'Bearer cora-secret' } };

  it('charges the prompt, estimated, on Chat as on StreamChat, in the error, the stats, the ledger and the budget', async () => {
    const prompt = 'a question whose answer the upstream starts and never finishes';
    k.upstream.injectFault({ kind: 'cut', model: 'gpt-4o', afterTokens: 2, times: 1 });
    const unary = await unaryError(k.clients.chat.chat.bind(k.clients.chat), { model: 'gpt-4o', prompt, messages: [] }, cora);
    expect(unary.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
    k.upstream.injectFault({ kind: 'cut', model: 'gpt-4o', afterTokens: 2, times: 1 });
    // Another key (no budget) streams the same prompt to the same cut.
    const erin = new grpc.Metadata();
    erin.set('authorization', 'Bearer erin-secret');
    const streamed = await collectStream(k.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt }), erin));
    expect(streamed.error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
    const promptOf = (e: typeof unary | undefined) => Number(e?.decoded.errorInfo?.metadata['prompt_tokens']);
    expect(promptOf(unary)).toBeGreaterThan(0);
    expect(promptOf(unary)).toBe(promptOf(streamed.error));
    expect(Number(unary.decoded.errorInfo?.metadata['cost_usd'])).toBeGreaterThan(0);

    await k.app.ledger.store?.flush();
    const attempts = await k.app.ledger
      .database()!
      .db.selectFrom('ledger_attempts')
      .select(['prompt_tokens', 'usage_estimated', 'cost_usd'])
      .where('model', '=', 'gpt-4o')
      .orderBy('call_id')
      .execute();
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(Number(a.prompt_tokens)).toBe(promptOf(unary));
      expect(Number(a.usage_estimated)).toBe(1);
      expect(Number(a.cost_usd)).toBeGreaterThan(0);
    }

    const next = await unaryError(
      k.clients.chat.chat.bind(k.clients.chat),
      { model: 'gpt-4o-mini', prompt: 'and now?', messages: [] },
      cora,
    );
    expect(next.decoded.errorInfo?.reason).toBe('BUDGET_EXHAUSTED');
  });
});
