import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AttemptOutcome, StreamStrategy } from '../../src/gen/orchestrator/v1/common.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// gamma-x's provider has no key: a chain skips it at once, without calling anything.
const CONFIG = `providers:
  - { name: gamma, kind: openai, base_url: "http://127.0.0.1:9/v1", api_key_env: GAMMA_KEY_NOT_SET }
models:
  - { id: gamma-x, provider: gamma, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 1, output_price_per_million: 1, family: g, tier: medium, quality: 0.7 }
`;

describe('a Fallback link followed by models the chain will skip', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { CONFIG_FILE: writeConfigFile(CONFIG), BREAKER_CONSECUTIVE_FAILURES: '1', BREAKER_HALF_OPEN_AFTER_MS: '60000' },
    });
    // One failure opens gpt-4o-mini's breaker for the rest of the file.
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o-mini', times: 1 });
    await unaryError(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'hi', messages: [] });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());

  const slowFirst = () => h.upstream.injectFault({ kind: 'delay', delayMs: 900, model: 'gpt-4o', times: 1 });

  it('has the deadline those models would not use: a slow first model still answers', async () => {
    slowFirst();
    const { response } = await callUnary(
      h.clients.chat.fallback.bind(h.clients.chat),
      { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'gamma-x', 'gpt-4o-mini'], disableDefaultMessage: true },
      { deadlineMs: 1_500 },
    );
    expect(response.modelUsed).toBe('gpt-4o');
    expect(response.attempts.map((a) => [a.model, a.outcome])).toEqual([['gpt-4o', AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS]]);
  });

  it('still keeps a share for a later model that is called', async () => {
    slowFirst();
    const { response } = await callUnary(
      h.clients.chat.fallback.bind(h.clients.chat),
      { model: '', prompt: 'hi', messages: [], models: ['gpt-4o', 'gamma-x', 'gpt-4.1-nano'], disableDefaultMessage: true },
      { deadlineMs: 1_500 },
    );
    expect(response.modelUsed).toBe('gpt-4.1-nano');
    expect(response.attempts[0]).toMatchObject({ model: 'gpt-4o', outcome: AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT });
    // Half of what was left, not a third: gamma-x took no share.
    const share = Number(/share of the deadline \((\d+) ms\)/.exec(response.attempts[0]?.message ?? '')?.[1]);
    expect(share).toBeGreaterThan(550);
    expect(share).toBeLessThanOrEqual(750);
  });

  it('for a stream too', async () => {
    slowFirst();
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({ prompt: 'hi', models: ['gpt-4o', 'gamma-x', 'gpt-4o-mini'], strategy: StreamStrategy.STREAM_STRATEGY_FALLBACK }),
        { deadline: Date.now() + 1_500 },
      ),
    );
    expect(error).toBeUndefined();
    const started = messages[0]?.event;
    expect(started?.$case === 'started' && started.started.model).toBe('gpt-4o');
  });
});
