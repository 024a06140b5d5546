import { describe, expect, it } from 'vitest';
import { context, engineFixture, input, ref, eventsOf } from '../../helpers/engine-fixture.js';
import { SINGLE_STREAM } from '../../helpers/stream-targets.js';

describe('the engine feeds routing from streams', () => {
  it("learns a model's time to first token from a completed stream", async () => {
    const { engine, provider, catalog } = engineFixture();
    const nano = catalog.find('gpt-4.1-nano')!;
    // Quick to start, slow to finish: about 50 ms to the first of 12 tokens, 600 ms in all, longer
    // than the catalog predicts for the whole answer. Only a measured TTFT can pull the estimate down.
    provider.script(nano.upstreamId, { kind: 'answer', content: Array(12).fill('word').join(' '), tokenDelayMs: 50 });
    for await (const event of eventsOf(engine.stream({ model: ref(nano.id), target: SINGLE_STREAM, input: input(), ctx: context() }))) {
      if (event.type === 'completed') expect(event.attempts).toHaveLength(1);
    }
    const scored = (await engine.rank({ route: { profile: 'speed', candidates: [] }, input: input(), ctx: context() })).ranking.find(
      (s) => s.model.id === nano.id,
    )!;
    expect(scored.expectedTtftMs).toBeLessThan(nano.typicalTtftMs);
  });

  it("counts the model's time only: what the call spent before reaching it (ranking, admission) is not the model's", async () => {
    const { engine, provider, catalog } = engineFixture();
    const mini = catalog.find('gpt-4o-mini')!;
    provider.script(mini.upstreamId, { kind: 'answer', content: 'quick answer' });
    // A call that took two seconds to reach the model (the first routed call loads the tokenizer,
    // an admission can wait on shared limits), then got its first token at once.
    const ctx = { ...context(), startedAt: performance.now() - 2_000 };
    for await (const event of eventsOf(engine.stream({ model: ref(mini.id), target: SINGLE_STREAM, input: input(), ctx }))) {
      if (event.type === 'completed') expect(event.timeToFirstTokenMs).toBeGreaterThanOrEqual(2_000);
    }
    const scored = (await engine.rank({ route: { profile: 'speed', candidates: [] }, input: input(), ctx: context() })).ranking.find(
      (s) => s.model.id === mini.id,
    )!;
    expect(scored.expectedTtftMs).toBeLessThan(mini.typicalTtftMs);
  });
});
