import { describe, expect, it } from 'vitest';
import { context, engineFixture, input, ref, eventsOf } from '../../helpers/engine-fixture.js';
import { SINGLE_STREAM } from '../../helpers/stream-targets.js';

describe('the engine feeds routing from streams', () => {
  it("learns a model's time to first token from a completed stream", async () => {
    const { engine, provider, catalog } = engineFixture();
    // A model the catalog expects to be slow to start (700 ms), so a busy machine delaying the first
    // token by a few hundred ms still leaves it well under that.
    const turbo = catalog.find('gpt-4-turbo')!;
    // Quick to start, slow to finish: 12 tokens at once, then 1.2 s before the end, longer than the
    // catalog predicts for the whole answer. Only a measured TTFT can pull the estimate down.
    provider.script(turbo.upstreamId, { kind: 'answer', content: Array(12).fill('word').join(' '), endDelayMs: 1_200 });
    for await (const event of eventsOf(engine.stream({ model: ref(turbo.id), target: SINGLE_STREAM, input: input(), ctx: context() }))) {
      if (event.type === 'completed') expect(event.attempts).toHaveLength(1);
    }
    const scored = (await engine.rank({ route: { profile: 'speed', candidates: [] }, input: input(), ctx: context() })).ranking.find(
      (s) => s.model.id === turbo.id,
    )!;
    expect(scored.expectedTtftMs).toBeLessThan(turbo.typicalTtftMs);
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
