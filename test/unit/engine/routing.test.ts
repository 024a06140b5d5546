import { describe, expect, it } from 'vitest';
import { Catalog, type CatalogModel } from '../../../src/catalog/catalog.js';
import { BUILTIN_MODELS, type ModelDefinition } from '../../../src/catalog/models.js';
import { estimateToolingTokens, type AttemptRecord, type ChatMessage } from '../../../src/domain/chat.js';
import { deadlineExceeded } from '../../../src/domain/errors.js';
import { upstreamFailed, upstreamRejected } from '../../../src/domain/upstream-errors.js';
import {
  classifyComplexity,
  LiveModelStats,
  DEFAULT_PROFILE_WEIGHTS,
  effectiveWeights,
  type RoutingProfileName,
  Router,
  type BreakerState,
} from '../../../src/engine/index.js';

const catalog = new Catalog({ models: BUILTIN_MODELS, providers: new Map([['openai', 'openai']]) });

function router(breakers: Record<string, BreakerState> = {}) {
  const live = new LiveModelStats((id) => catalog.find(id));
  const r = new Router({ catalog, live, weights: DEFAULT_PROFILE_WEIGHTS, breakerState: (m: CatalogModel) => breakers[m.id] ?? 'closed' });
  return { router: r, live };
}

const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const best = (
  r: Router,
  profile: RoutingProfileName,
  messages = user('What is the capital of France?'),
  maxTokens = 300,
  streaming = false,
) => r.rank({ profile, messages, maxTokens, candidates: [], streaming }).ranking[0]?.model.id;

function success(model: string, latencyMs: number, completionTokens = 100): AttemptRecord {
  return {
    model,
    provider: 'openai',
    outcome: 'success',
    latencyMs,
    usage: { promptTokens: 10, completionTokens, totalTokens: 10 + completionTokens, cachedTokens: 0 },
    costUsd: 0,
    retry: 0,
    backoffMs: 0,
  };
}

describe('complexity classifier', () => {
  it('calls a short question simple', () => {
    expect(classifyComplexity(user('What is the capital of France?'), 200)).toMatchObject({ complexity: 'simple', signals: [] });
  });

  it('counts tokens with a real tokenizer', () => {
    const report = classifyComplexity(user('Hello world, how are you doing today?'), 100);
    expect(report.promptTokens).toBe(9 + 3);
  });

  it('calls code plus math plus steps complex', () => {
    const prompt =
      'First derive the integral of x^2, then write a Python function:\n```python\ndef f(x):\n    return x**2\n```\nand explain step by step.';
    const report = classifyComplexity(user(prompt), 500);
    expect(report.complexity).toBe('complex');
    expect(report.signals).toEqual(expect.arrayContaining(['code', 'math', 'multi_step']));
  });

  it('treats a long requested answer as a signal', () => {
    expect(classifyComplexity(user('Write a detailed essay about rivers'), 300).signals).toContain('long_output');
    expect(classifyComplexity(user('Summarise rivers'), 4_000).signals).toContain('long_output');
  });

  it('draws the documented lines: long_prompt past 1,500 tokens, long_output past 1,500 max_tokens, simple under 300, complex past 4,000 or at two signals', () => {
    const sized = (promptTokens: number) => [{ role: 'user' as const, content: 'hi', promptTokens }];
    expect(classifyComplexity(sized(299), 100).complexity).toBe('simple');
    expect(classifyComplexity(sized(300), 100)).toMatchObject({ complexity: 'moderate', signals: [] });
    expect(classifyComplexity(sized(1_500), 100).signals).toEqual([]);
    expect(classifyComplexity(sized(1_501), 100).signals).toEqual(['long_prompt']);
    expect(classifyComplexity(sized(4_000), 100).complexity).toBe('moderate');
    expect(classifyComplexity(sized(4_001), 100).complexity).toBe('complex');
    expect(classifyComplexity(user('Summarise rivers'), 1_500).signals).toEqual([]);
    expect(classifyComplexity(user('Summarise rivers'), 1_501).signals).toEqual(['long_output']);
    const two = classifyComplexity(user('Write a function:\n```\nconst x = 1;\n```'), 2_000);
    expect(two).toMatchObject({ complexity: 'complex', signals: ['code', 'long_output'] });
  });
});

describe('routing profiles', () => {
  it('choose differently on the same catalog', () => {
    const { router: r } = router();
    const picks = {
      quality: best(r, 'quality'),
      speed: best(r, 'speed'),
      budget: best(r, 'budget'),
      balanced: best(r, 'balanced'),
    };
    expect(new Set(Object.values(picks)).size).toBeGreaterThanOrEqual(3);
    const q = catalog.find(picks.quality ?? '')!;
    const b = catalog.find(picks.budget ?? '')!;
    expect(q.quality).toBeGreaterThan(b.quality);
    expect(b.outputPricePerMillion).toBeLessThan(q.outputPricePerMillion);
    const s = catalog.find(picks.speed ?? '')!;
    expect(s.typicalTtftMs).toBeLessThanOrEqual(350);
  });

  it('follow live latency: a model that slows down loses the speed ranking', () => {
    const { router: r, live } = router();
    const fastest = best(r, 'speed')!;
    for (let i = 0; i < 10; i++) live.recordAttempt(success(fastest, 20_000));
    expect(best(r, 'speed')).not.toBe(fastest);
  });

  it('follow live time to first token: a model slow to start loses the speed ranking, unary or streamed', () => {
    const { router: r, live } = router();
    const fastest = best(r, 'speed')!;
    const model = catalog.find(fastest)!;
    const totalBefore = live.expectedLatencyMs(model, 300);
    for (let i = 0; i < 10; i++) live.recordTimeToFirstToken(fastest, 20_000);
    // Only the TTFT estimate moved: the whole-answer latency is what it was.
    expect(live.expectedLatencyMs(model, 300)).toBe(totalBefore);
    expect(best(r, 'speed')).not.toBe(fastest);
    expect(best(r, 'speed', undefined, undefined, true)).not.toBe(fastest);
  });

  it('weigh time to first token on streamed requests only, outside the speed profile', () => {
    const { router: r, live } = router();
    const winner = best(r, 'balanced')!;
    for (let i = 0; i < 10; i++) live.recordTimeToFirstToken(winner, 20_000);
    expect(best(r, 'balanced')).toBe(winner);
    expect(best(r, 'balanced', undefined, undefined, true)).not.toBe(winner);
  });

  it('move half the latency weight to time to first token for a stream', () => {
    expect(effectiveWeights(DEFAULT_PROFILE_WEIGHTS.balanced, false)).toBe(DEFAULT_PROFILE_WEIGHTS.balanced);
    expect(effectiveWeights(DEFAULT_PROFILE_WEIGHTS.speed, true)).toMatchObject({ latency: 0.175, ttft: 0.475, quality: 0.1 });
  });

  it('move simple prompts to small tiers and complex ones to large tiers', () => {
    const { router: r } = router();
    const simple = catalog.find(best(r, 'balanced', user('hi there'), 100)!)!;
    const hard = catalog.find(
      best(r, 'balanced', user('First prove the theorem step by step, then write the code:\n```ts\nconst x = 1;\n```'), 2_000)!,
    )!;
    expect(simple.tier).toBe('small');
    expect(hard.tier).toBe('large');
  });

  it('long_context excludes models whose window cannot hold the prompt plus max_tokens', () => {
    const { router: r } = router();
    const long = user('word '.repeat(20_000));
    const decision = r.rank({ profile: 'long_context', messages: long, maxTokens: 4_000, candidates: [] });
    const excluded = decision.ranking.filter((s) => s.excluded).map((s) => s.model.id);
    expect(excluded).toContain('gpt-3.5-turbo');
    expect(decision.ranking.find((s) => s.model.id === 'gpt-3.5-turbo')?.excluded).toMatch(/context window 16385/);
    expect(decision.ranking[0]?.model.contextWindow).toBeGreaterThan(24_000);
  });

  it('long_context prefers context headroom: a big window where balanced picks a smaller one', () => {
    const { router: r } = router();
    const long = user('word '.repeat(20_000));
    const balanced = catalog.find(best(r, 'balanced', long, 4_000)!)!;
    const longContext = catalog.find(best(r, 'long_context', long, 4_000)!)!;
    expect(longContext.contextWindow).toBeGreaterThan(balanced.contextWindow);
    const decision = r.rank({ profile: 'long_context', messages: long, maxTokens: 4_000, candidates: [] });
    const headroom = (id: string) => decision.ranking.find((s) => s.model.id === id)!;
    expect(headroom(longContext.id).context).toBe(1);
    expect(headroom(longContext.id).contextHeadroom).toBeGreaterThan(headroom(balanced.id).contextHeadroom);
  });

  it('excludes a model whose breaker is open and penalises failures', () => {
    const { router: r, live } = router({ 'gpt-5': 'open' });
    const decision = r.rank({ profile: 'quality', messages: user('hi'), maxTokens: 100, candidates: [] });
    expect(decision.ranking.find((s) => s.model.id === 'gpt-5')?.excluded).toBe('circuit breaker open');
    const before = decision.ranking.find((s) => s.model.id === 'o3')!.reliability;
    const reliability = () =>
      r.rank({ profile: 'quality', messages: user('hi'), maxTokens: 100, candidates: [] }).ranking.find((s) => s.model.id === 'o3')!
        .reliability;
    // Failures that are not the model's (the caller's deadline, a request the upstream refused) do not count.
    live.recordAttempt({ ...success('o3', 100), outcome: 'timeout', error: deadlineExceeded() });
    live.recordAttempt({ ...success('o3', 100), outcome: 'failure', error: upstreamRejected('openai', 400, {}) });
    expect(reliability()).toBe(before);
    live.recordAttempt({ ...success('o3', 100), outcome: 'failure', error: upstreamFailed('openai', 503, undefined, {}) });
    expect(reliability()).toBeLessThan(before);
  });

  it('name a lasting reason over an open breaker: the window, what the request uses, the key; the breaker only where nothing else excludes', () => {
    const { router: r } = router({ 'gpt-3.5-turbo': 'open', 'gpt-4o': 'open', 'gpt-4o-mini': 'open', 'gpt-4.1': 'open' });
    const exclude = (model: CatalogModel): string | undefined =>
      model.id === 'gpt-4o' ? 'does not take images' : model.id === 'gpt-4o-mini' ? 'not allowed for this API key' : undefined;
    const candidates = ['gpt-3.5-turbo', 'gpt-4o', 'gpt-4o-mini', 'gpt-4.1'].map((id) => catalog.find(id)!);
    const decision = r.rank({ profile: 'long_context', messages: user('word '.repeat(20_000)), maxTokens: 4_000, candidates, exclude });
    const reason = (id: string) => decision.ranking.find((s) => s.model.id === id)?.excluded;
    expect(reason('gpt-3.5-turbo')).toMatch(/^context window 16385 < \d+ tokens needed$/);
    expect(reason('gpt-4o')).toBe('does not take images');
    expect(reason('gpt-4o-mini')).toBe('not allowed for this API key');
    expect(reason('gpt-4.1')).toBe('circuit breaker open');
  });

  it('halve the reliability of a model whose breaker is half-open', () => {
    const { router: r } = router({ o3: 'half_open' });
    const decision = r.rank({ profile: 'quality', messages: user('hi'), maxTokens: 100, candidates: [] });
    expect(decision.ranking.find((s) => s.model.id === 'o3')).toMatchObject({ reliability: 0.5, excluded: undefined });
    expect(decision.ranking.find((s) => s.model.id === 'gpt-5')?.reliability).toBe(1);
  });

  it('count context headroom up to 32 times the tokens needed: two windows both past it score the same', () => {
    const { router: r } = router();
    const decision = r.rank({
      profile: 'long_context',
      messages: user('hi'),
      maxTokens: 100,
      candidates: [catalog.find('gpt-4.1')!, catalog.find('gpt-4o')!, catalog.find('gpt-3.5-turbo')!],
    });
    const byId = new Map(decision.ranking.map((s) => [s.model.id, s]));
    expect(byId.get('gpt-4.1')!.contextHeadroom).toBeGreaterThan(byId.get('gpt-4o')!.contextHeadroom * 5);
    expect(byId.get('gpt-4o')!.contextHeadroom).toBeGreaterThan(32);
    expect(byId.get('gpt-4.1')!.context).toBe(1);
    expect(byId.get('gpt-4o')!.context).toBe(1);
  });

  it('count the tool definitions and the JSON Schema in the prompt tokens, as the upstream reads them', () => {
    const { router: r } = router();
    const messages = user('What is the weather in Paris?');
    const plain = r.rank({ profile: 'balanced', messages, maxTokens: 100, candidates: [] });
    const tooling = {
      tools: [
        {
          name: 'get_weather',
          description: 'The weather in a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
    };
    const withTools = r.rank({ profile: 'balanced', messages, maxTokens: 100, candidates: [], tooling });
    expect(withTools.promptTokens).toBe(plain.promptTokens + estimateToolingTokens(tooling));
    expect(withTools.promptTokens).toBeGreaterThan(plain.promptTokens + 10);
  });

  it('ranks only the candidates when given', () => {
    const { router: r } = router();
    const decision = r.rank({
      profile: 'speed',
      messages: user('hi'),
      maxTokens: 100,
      candidates: [catalog.find('gpt-4o')!, catalog.find('o3')!],
    });
    expect(decision.ranking.map((s) => s.model.id)).toEqual(['gpt-4o', 'o3']);
  });
});

describe('live model statistics', () => {
  const nano = catalog.find('gpt-4.1-nano')!;

  it('estimate time to first token from the catalog, then from streams (EWMA)', () => {
    const live = new LiveModelStats((id) => catalog.find(id));
    expect(live.expectedTtftMs(nano)).toBe(nano.typicalTtftMs);
    live.recordTimeToFirstToken(nano.id, 1_250);
    expect(live.expectedTtftMs(nano)).toBeCloseTo(0.3 * 1_250 + 0.7 * nano.typicalTtftMs, 6);
    for (let i = 0; i < 40; i++) live.recordTimeToFirstToken(nano.id, 40);
    expect(live.expectedTtftMs(nano)).toBeCloseTo(40, 0);
  });

  it('scale the catalog TTFT by the observed slowdown until a stream measures it', () => {
    const live = new LiveModelStats((id) => catalog.find(id));
    for (let i = 0; i < 20; i++) live.recordAttempt(success(nano.id, 10_000));
    expect(live.expectedTtftMs(nano)).toBeGreaterThan(5 * nano.typicalTtftMs);
  });

  it('ignore unknown models and impossible measurements', () => {
    const live = new LiveModelStats((id) => catalog.find(id));
    live.recordTimeToFirstToken('no-such-model', 10);
    live.recordTimeToFirstToken(nano.id, Number.NaN);
    live.recordTimeToFirstToken(nano.id, -5);
    expect(live.expectedTtftMs(nano)).toBe(nano.typicalTtftMs);
  });
});

describe('eligibility by context window', () => {
  const base = BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!;
  const sized = (id: string, contextWindow: number, maxOutputTokens = 16_384): ModelDefinition => ({
    ...base,
    id,
    aliases: [],
    fallbacks: [],
    contextWindow,
    maxOutputTokens,
  });
  const rankOn = (models: ModelDefinition[], maxTokens: number) => {
    const small = new Catalog({ models, providers: new Map([['openai', 'openai']]) });
    const live = new LiveModelStats((id) => small.find(id));
    const r = new Router({ catalog: small, live, weights: DEFAULT_PROFILE_WEIGHTS, breakerState: () => 'closed' });
    const decision = r.rank({ profile: 'balanced', messages: user('hi'), maxTokens, candidates: [] });
    return { decision, excluded: (id: string) => decision.ranking.find((s) => s.model.id === id)?.excluded };
  };

  it('takes a model whose window holds the prompt plus max_tokens exactly, and not one a token smaller', () => {
    const promptTokens = rankOn([sized('probe', 100_000)], 100).decision.promptTokens;
    const { excluded } = rankOn([sized('exact', promptTokens + 100), sized('short', promptTokens + 99)], 100);
    expect(excluded('exact')).toBeUndefined();
    expect(excluded('short')).toBe(`context window ${promptTokens + 99} < ${promptTokens + 100} tokens needed`);
  });

  it("counts max_tokens capped at the model's output limit, since no answer is longer", () => {
    const promptTokens = rankOn([sized('probe', 100_000)], 100).decision.promptTokens;
    const { excluded } = rankOn([sized('capped', promptTokens + 1_000, 1_000), sized('uncapped', promptTokens + 1_000, 16_384)], 5_000);
    expect(excluded('capped')).toBeUndefined();
    expect(excluded('uncapped')).toBe(`context window ${promptTokens + 1_000} < ${promptTokens + 5_000} tokens needed`);
  });
});
