import { describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../../../src/catalog/models.js';
import { nameKey } from '../../../../src/catalog/sync/names.js';
import { type KnownModel, resolveNames } from '../../../../src/catalog/sync/resolve.js';

/** The built-in catalog plus the kinds of models a config file adds (config/example.yaml and more). */
const KNOWN: KnownModel[] = [
  ...BUILTIN_MODELS,
  { id: 'llama3.1-8b', aliases: ['llama', 'llama3'], upstreamId: 'llama3.1:8b' },
  { id: 'llama3.1-70b', aliases: [] },
  { id: 'claude-sonnet-4', aliases: ['sonnet'], upstreamId: 'claude-sonnet-4-20250514' },
  { id: 'claude-3-5-sonnet', aliases: [] },
  { id: 'claude-haiku-3.5', aliases: [], upstreamId: 'claude-3-5-haiku-20241022' },
  { id: 'openrouter-llama-70b', aliases: [], upstreamId: 'meta-llama/llama-3.3-70b-instruct' },
  { id: 'qwen2.5-72b', aliases: [] },
  { id: 'mistral-large', aliases: [] },
  { id: 'gemini-1.5-pro', aliases: [] },
  { id: 'gemini-2.0-flash', aliases: [] },
  { id: 'deepseek-chat', aliases: [] },
  { id: 'gemma-2-9b', aliases: [] },
];

function resolveOne(name: string, overrides?: Record<string, string | null>) {
  return resolveNames([name], { known: KNOWN, ...(overrides ? { overrides } : {}) });
}

// [external name as a source spells it, the catalog id it must resolve to, the rule]
const MATCHES: [string, string, string][] = [
  // OpenRouter: vendor paths, upstream ids
  ['openai/gpt-4o', 'gpt-4o', 'normalised'],
  ['openai/gpt-4o-mini', 'gpt-4o-mini', 'normalised'],
  ['openai/gpt-4.1', 'gpt-4.1', 'normalised'],
  ['openai/gpt-4.1-mini', 'gpt-4.1-mini', 'normalised'],
  ['openai/gpt-4.1-nano', 'gpt-4.1-nano', 'normalised'],
  ['openai/o3', 'o3', 'normalised'],
  ['openai/o4-mini', 'o4-mini', 'normalised'],
  ['openai/gpt-5', 'gpt-5', 'normalised'],
  ['openai/gpt-3.5-turbo', 'gpt-3.5-turbo', 'normalised'],
  ['openai/gpt-4-turbo', 'gpt-4-turbo', 'normalised'],
  ['openai/gpt-4o-2024-05-13', 'gpt-4o', 'normalised'],
  ['openai/gpt-4o-2024-08-06', 'gpt-4o', 'normalised'],
  ['openai/gpt-4o-mini-2024-07-18', 'gpt-4o-mini', 'normalised'],
  ['openai/gpt-3.5-turbo-0125', 'gpt-3.5-turbo', 'normalised'],
  ['meta-llama/llama-3.3-70b-instruct', 'openrouter-llama-70b', 'alias'],
  ['anthropic/claude-3.5-sonnet', 'claude-3-5-sonnet', 'normalised'],
  ['anthropic/claude-sonnet-4', 'claude-sonnet-4', 'normalised'],
  ['qwen/qwen-2.5-72b-instruct', 'qwen2.5-72b', 'normalised'],
  ['deepseek/deepseek-chat', 'deepseek-chat', 'normalised'],
  ['mistralai/mistral-large-2411', 'mistral-large', 'normalised'],
  ['google/gemini-2.0-flash-001', 'gemini-2.0-flash', 'normalised'],
  // Arena: display names with case, spaces, dates and format suffixes
  ['GPT-4o-2024-05-13', 'gpt-4o', 'normalised'],
  ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini', 'normalised'],
  ['GPT-4-Turbo-2024-04-09', 'gpt-4-turbo', 'alias'],
  ['GPT-4.1-2025-04-14', 'gpt-4.1', 'normalised'],
  ['o3-2025-04-16', 'o3', 'normalised'],
  ['Claude 3.5 Sonnet (20241022)', 'claude-3-5-sonnet', 'normalised'],
  ['claude-3-5-sonnet-20240620', 'claude-3-5-sonnet', 'normalised'],
  ['claude-3-5-haiku-20241022', 'claude-haiku-3.5', 'alias'],
  ['claude-sonnet-4-20250514', 'claude-sonnet-4', 'alias'],
  ['Meta-Llama-3.1-70B-Instruct', 'llama3.1-70b', 'normalised'],
  ['Meta-Llama-3.1-8B-Instruct-bf16', 'llama3.1-8b', 'normalised'],
  ['Gemini-1.5-Pro-002', 'gemini-1.5-pro', 'normalised'],
  ['Qwen2.5-72B-Instruct', 'qwen2.5-72b', 'normalised'],
  ['Mistral-Large-2407', 'mistral-large', 'normalised'],
  ['GPT-5', 'gpt-5', 'exact'],
  // Hugging Face Hub ids
  ['meta-llama/Llama-3.1-8B-Instruct', 'llama3.1-8b', 'normalised'],
  ['meta-llama/Meta-Llama-3.1-70B-Instruct', 'llama3.1-70b', 'normalised'],
  ['Qwen/Qwen2.5-72B-Instruct', 'qwen2.5-72b', 'normalised'],
  ['google/gemma-2-9b-it', 'gemma-2-9b', 'normalised'],
  ['llama3.1:8b', 'llama3.1-8b', 'alias'],
  // Typos and spellings the normaliser does not know: fuzzy, with the same numbers and tier words
  ['llamma-3.1-70b', 'llama3.1-70b', 'fuzzy'],
  ['mistrall-large', 'mistral-large', 'fuzzy'],
];

// Near misses: the name must NOT resolve to this id.
const MISSES: [string, string][] = [
  ['gpt-4o', 'gpt-4o-mini'],
  ['openai/gpt-4o-mini', 'gpt-4o'],
  ['openai/gpt-4.1-mini', 'gpt-4.1'],
  ['gpt-4.1', 'gpt-4.1-mini'],
  ['openai/gpt-4.1-nano', 'gpt-4.1-mini'],
  ['openai/o3-mini', 'o3'],
  ['o3-pro', 'o3'],
  ['openai/gpt-5-mini', 'gpt-5'],
  ['openai/gpt-4', 'gpt-4-turbo'],
  ['openai/gpt-4', 'gpt-4o'],
  ['anthropic/claude-3.5-haiku', 'claude-3-5-sonnet'],
  ['claude-3-5-sonnet', 'claude-haiku-3.5'],
  ['anthropic/claude-3-opus', 'claude-3-5-sonnet'],
  ['meta-llama/llama-3.1-8b-instruct', 'llama3.1-70b'],
  ['Meta-Llama-3.1-405B-Instruct', 'llama3.1-70b'],
  ['meta-llama/llama-3.2-3b-instruct', 'llama3.1-8b'],
  ['chatgpt-4o-latest', 'gpt-4o'],
  ['gemini-2.0-flash-lite', 'gemini-2.0-flash'],
  ['gemini-1.5-flash', 'gemini-1.5-pro'],
  ['qwen/qwen-2.5-7b-instruct', 'qwen2.5-72b'],
  ['deepseek/deepseek-r1', 'deepseek-chat'],
  ['mistralai/mistral-small-2409', 'mistral-large'],
  ['openai/gpt-4o:free', 'gpt-4o'],
  ['openai/gpt-4o:extended', 'gpt-4o'],
  ['Gemini-1.5-Pr0', 'gemini-1.5-pro'],
];

/**
 * The catalog after an OpenRouter sync that listed dated snapshots beside the undated models:
 * each snapshot became a model of its own, under OpenRouter's name.
 */
const WITH_SNAPSHOTS: KnownModel[] = [
  ...KNOWN,
  { id: 'openai/gpt-4o-2024-05-13', aliases: [] },
  { id: 'anthropic/claude-3.5-sonnet-20240620', aliases: [] },
];

// [name, id, rule] against WITH_SNAPSHOTS: the name with its date first, the date dropped only after.
const SNAPSHOT_MATCHES: [string, string, string][] = [
  ['GPT-4o-2024-05-13', 'openai/gpt-4o-2024-05-13', 'normalised'],
  ['gpt-4o-20240513', 'openai/gpt-4o-2024-05-13', 'normalised'],
  ['openai/gpt-4o-2024-05-13', 'openai/gpt-4o-2024-05-13', 'exact'],
  ['claude-3-5-sonnet-20240620', 'anthropic/claude-3.5-sonnet-20240620', 'normalised'],
  // No model for that date: the undated model, which the snapshots do not make ambiguous.
  ['GPT-4o-2024-08-06', 'gpt-4o', 'normalised'],
  ['openai/gpt-4o', 'gpt-4o', 'normalised'],
  ['gpt-4o', 'gpt-4o', 'exact'],
  ['Claude 3.5 Sonnet (20241022)', 'claude-3-5-sonnet', 'normalised'],
  ['anthropic/claude-3.5-sonnet', 'claude-3-5-sonnet', 'normalised'],
  ['GPT-4o-mini-2024-07-18', 'gpt-4o-mini', 'normalised'],
];

// Near misses against WITH_SNAPSHOTS.
const SNAPSHOT_MISSES: [string, string][] = [
  ['GPT-4o-2024-05-13', 'gpt-4o'],
  ['GPT-4o-2024-08-06', 'openai/gpt-4o-2024-05-13'],
  ['GPT-4o-mini-2024-07-18', 'openai/gpt-4o-2024-05-13'],
  ['openai/gpt-4o-mini', 'openai/gpt-4o-2024-05-13'],
  ['claude-3-5-sonnet-20241022', 'anthropic/claude-3.5-sonnet-20240620'],
];

describe('entity resolution', () => {
  it('resolves real names from OpenRouter, the Arena and the Hub with the expected rule', () => {
    const wrong = MATCHES.filter(([name, id, rule]) => {
      const r = resolveOne(name);
      const m = r.matched[0];
      return m?.catalogId !== id || m.rule !== rule;
    }).map(([name, id, rule]) => ({ name, id, rule, got: resolveOne(name).matched[0] }));
    expect(wrong).toEqual([]);
    expect(MATCHES.length + MISSES.length).toBeGreaterThanOrEqual(40);
  });

  it('never lets a name take a model with a different tier, size or version', () => {
    const wrong = MISSES.filter(([name, id]) => resolveOne(name).matched.some((m) => m.catalogId === id)).map(([name, id]) => ({
      name,
      id,
      got: resolveOne(name).matched[0],
    }));
    expect(wrong).toEqual([]);
  });

  it('matches a dated snapshot the catalog has by its date before dropping the date', () => {
    const got = (name: string) => resolveNames([name], { known: WITH_SNAPSHOTS }).matched[0];
    const wrong = SNAPSHOT_MATCHES.filter(([name, id, rule]) => got(name)?.catalogId !== id || got(name)?.rule !== rule).map(
      ([name, id, rule]) => ({ name, id, rule, got: got(name) }),
    );
    expect(wrong).toEqual([]);
    const taken = SNAPSHOT_MISSES.filter(([name, id]) => got(name)?.catalogId === id).map(([name, id]) => ({ name, id, got: got(name) }));
    expect(taken).toEqual([]);
  });

  it('picks between two names equally good for one model by code unit, whatever the locale', () => {
    // Two sources spelling one id in two cases: the later-sorting name wins on every replica
    // ('g' after 'G' by code unit, where a locale's collation puts uppercase after lowercase).
    for (const names of [
      ['GPT-4o', 'gpt-4o'],
      ['gpt-4o', 'GPT-4o'],
    ]) {
      const { matched, superseded } = resolveNames(names, { known: KNOWN });
      expect(matched.filter((m) => m.catalogId === 'gpt-4o').map((m) => m.externalId)).toEqual(['gpt-4o']);
      expect(superseded.map((m) => m.externalId)).toEqual(['GPT-4o']);
    }
  });

  it("matches a model's own id before another model's alias or upstream id", () => {
    const known = [
      { id: 'gpt-4o-mini', aliases: [] },
      { id: 'house-mini', aliases: ['mini'], upstreamId: 'gpt-4o-mini' },
    ];
    expect(resolveNames(['gpt-4o-mini', 'MINI'], { known }).matched).toEqual([
      { externalId: 'gpt-4o-mini', catalogId: 'gpt-4o-mini', rule: 'exact', confidence: 1 },
      { externalId: 'MINI', catalogId: 'house-mini', rule: 'alias', confidence: 1 },
    ]);
  });

  it('says what it could not match', () => {
    const r = resolveNames(['openai/gpt-4o', 'x-ai/grok-3', 'openai/o3-mini'], { known: KNOWN });
    expect(r.matched.map((m) => m.catalogId)).toEqual(['gpt-4o']);
    expect(r.unmatched).toEqual(['x-ai/grok-3', 'openai/o3-mini']);
  });

  it('lets overrides win, and an override to null ignores the name', () => {
    const overrides = { 'openai/gpt-4o-mini': 'gpt-4o', 'openai/gpt-4o': null, 'x-ai/grok-3': 'grok-3' };
    const r = resolveNames(['openai/gpt-4o-mini', 'openai/gpt-4o', 'X-AI/Grok-3'], { known: KNOWN, overrides });
    expect(r.matched).toEqual([
      { externalId: 'openai/gpt-4o-mini', catalogId: 'gpt-4o', rule: 'override', confidence: 1 },
      { externalId: 'X-AI/Grok-3', catalogId: 'grok-3', rule: 'override', confidence: 1 },
    ]);
    expect(r.ignored).toEqual(['openai/gpt-4o']);
    expect(r.unmatched).toEqual([]);
    // The file's spelling of the name need not be the source's case.
    const mixed = resolveNames(['meta-llama-3.1-8b-instruct', 'OpenAI/ChatGPT-4o-Latest'], {
      known: KNOWN,
      overrides: { 'Meta-Llama-3.1-8B-Instruct': 'llama3.1-70b', 'openai/chatgpt-4o-latest': null },
    });
    expect(mixed.matched).toEqual([
      { externalId: 'meta-llama-3.1-8b-instruct', catalogId: 'llama3.1-70b', rule: 'override', confidence: 1 },
    ]);
    expect(mixed.ignored).toEqual(['OpenAI/ChatGPT-4o-Latest']);
  });

  it('gives a catalog id one name per run: the undated name over dated snapshots', () => {
    const r = resolveNames(['openai/gpt-4o-2024-05-13', 'openai/gpt-4o', 'openai/gpt-4o-2024-11-20'], { known: KNOWN });
    expect(r.matched).toEqual([{ externalId: 'openai/gpt-4o', catalogId: 'gpt-4o', rule: 'normalised', confidence: 1 }]);
    expect(r.superseded.map((m) => m.externalId).sort()).toEqual(['openai/gpt-4o-2024-05-13', 'openai/gpt-4o-2024-11-20']);
    const dated = resolveNames(['gpt-4o-2024-05-13', 'gpt-4o-2024-11-20'], { known: KNOWN });
    expect(dated.matched[0]?.externalId).toBe('gpt-4o-2024-11-20');
  });

  it('reports a fuzzy match with its similarity, and refuses one below the threshold', () => {
    const r = resolveOne('llamma-3.1-70b');
    expect(r.matched[0]?.rule).toBe('fuzzy');
    expect(r.matched[0]?.confidence).toBeGreaterThan(0.85);
    expect(r.matched[0]?.confidence).toBeLessThan(1);
    expect(resolveNames(['llamma-3.1-70b'], { known: KNOWN, fuzzyThreshold: 0.99 }).unmatched).toEqual(['llamma-3.1-70b']);
  });

  it('leaves a fuzzy name unmatched when another model is nearly as close (within 0.05)', () => {
    const known = [
      { id: 'codestral-mamba-large', aliases: [] },
      { id: 'codestral-mambo-large', aliases: [] },
    ];
    // 0.955 against 0.909, and a tie: neither is clearly closer, so the name is ambiguous.
    expect(resolveNames(['codestrall-mamba-large', 'codestral-mamb-large'], { known })).toMatchObject({
      matched: [],
      unmatched: ['codestrall-mamba-large', 'codestral-mamb-large'],
    });
  });

  it("never matches an OpenRouter variant by its likeness, however long the name: ':free' is another offer", () => {
    const known = [{ id: 'llama-3.1-nemotron-ultra-253b-v1', aliases: [] }];
    // Without the variant check the names would be 0.87 alike, over the fuzzy threshold.
    expect(resolveNames(['nvidia/llama-3.1-nemotron-ultra-253b-v1:free'], { known })).toMatchObject({
      matched: [],
      unmatched: ['nvidia/llama-3.1-nemotron-ultra-253b-v1:free'],
    });
  });

  it('matches nothing by a key two catalog models share', () => {
    const known = [
      { id: 'acme/widget-1', aliases: [] },
      { id: 'other/widget-1', aliases: [] },
    ];
    expect(resolveNames(['vendor/Widget-1'], { known })).toMatchObject({ matched: [], unmatched: ['vendor/Widget-1'] });
  });

  it('keys names by what tells models apart', () => {
    expect(nameKey('openai/GPT-4o-2024-05-13')).toMatchObject({ strict: 'gpt-4-o', dated: true, variant: false });
    expect(nameKey('gpt4o').strict).toBe(nameKey('gpt-4o').strict);
    expect(nameKey('gpt-4o-20240513').snapshot).toBe('gpt-4-o-20240513');
    expect(nameKey('openai/GPT-4o-2024-05-13').snapshot).toBe('gpt-4-o-20240513');
    expect(nameKey('gpt-4o').snapshot).toBeUndefined();
    expect(nameKey('Meta-Llama-3.1-8B-Instruct')).toMatchObject({ strict: 'llama-3-1-8-b-instruct', loose: 'llama-3-1-8-b' });
    expect(nameKey('gpt-4o-mini').guard).not.toBe(nameKey('gpt-4o').guard);
  });
});
