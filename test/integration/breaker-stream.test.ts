import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { AttemptOutcome, CircuitState, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * The breaker judges a stream when it ends: a model whose streams always break after the first
 * token is as unhealthy as one that answers 500, and once open it is skipped by StreamChat,
 * StreamChat FALLBACK and Race alike, without an upstream request.
 */
describe('circuit breaker fed by streams that fail after their first token', () => {
  let h: Harness;
  beforeAll(async () => {
    // A long cool-down: the breaker stays open for the whole test.
    h = await startHarness({ env: { BREAKER_CONSECUTIVE_FAILURES: '3', BREAKER_HALF_OPEN_AFTER_MS: '60000', BREAKER_FAILURE_RATE: '1' } });
  });
  afterAll(async () => h.close());

  const stream = (fields: Parameters<typeof streamRequest>[0]) =>
    collectStream(h.clients.chat.streamChat(streamRequest({ prompt: 'breaker', ...fields })));
  const deltas = (messages: StreamChatResponse[]) => messages.filter((m) => m.event?.$case === 'delta').length;

  it('opens after N streams cut after one token, shows OPEN in ListModels and Stats, then skips the model', async () => {
    h.upstream.injectFault({ kind: 'cut', afterTokens: 1, model: 'gpt-4o' });
    for (let i = 0; i < 3; i++) {
      const { messages, error } = await stream({ model: 'gpt-4o' });
      expect(deltas(messages)).toBe(1);
      expect(error?.decoded.errorInfo?.reason).toBe('STREAM_TRUNCATED');
    }
    await h.upstream.waitForIdle(2_000);

    const { response: models } = await callUnary(h.clients.models.listModels.bind(h.clients.models), {
      provider: '',
      availableOnly: false,
    });
    expect(models.models.find((m) => m.id === 'gpt-4o')?.breakerState).toBe(CircuitState.CIRCUIT_STATE_OPEN);
    const { response: stats } = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(stats.models.find((m) => m.name === 'gpt-4o')?.breakerState).toBe(CircuitState.CIRCUIT_STATE_OPEN);

    const before = h.upstream.requests.length;
    const { messages, error } = await stream({ model: 'gpt-4o' });
    expect(messages).toEqual([]);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.decoded.errorInfo?.reason).toBe('CIRCUIT_OPEN');
    expect(h.upstream.requests.length).toBe(before);
  });

  it('lets StreamChat FALLBACK skip the open model at once', async () => {
    const before = h.upstream.requests.length;
    const { messages, error } = await stream({ strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK, models: ['gpt-4o', 'gpt-4o-mini'] });
    expect(error).toBeUndefined();
    const first = messages[0]?.event;
    expect(first?.$case === 'started' && first.started.model).toBe('gpt-4o-mini');
    const completed = messages.at(-1)?.event;
    if (completed?.$case !== 'completed') throw new Error('no completed event');
    expect(completed.completed.attempts[0]).toMatchObject({
      model: 'gpt-4o',
      outcome: AttemptOutcome.ATTEMPT_OUTCOME_SKIPPED,
      reason: 'CIRCUIT_OPEN',
    });
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['gpt-4o-mini']);
  });

  it('lets Race skip the open model at once', async () => {
    const before = h.upstream.requests.length;
    const { response } = await callUnary(h.clients.chat.race.bind(h.clients.chat), {
      model: '',
      prompt: 'breaker',
      messages: [],
      models: ['gpt-4o', 'gpt-4o-mini'],
    });
    expect(response.model).toBe('gpt-4o-mini');
    expect(response.attempts[0]).toMatchObject({
      model: 'gpt-4o',
      outcome: AttemptOutcome.ATTEMPT_OUTCOME_SKIPPED,
      reason: 'CIRCUIT_OPEN',
    });
    expect(h.upstream.requests.slice(before).map((r) => r.model)).toEqual(['gpt-4o-mini']);
  });
});
