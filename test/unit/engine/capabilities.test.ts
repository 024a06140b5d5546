import { describe, expect, it } from 'vitest';
import { CatalogSnapshot } from '../../../src/catalog/catalog.js';
import { BUILTIN_MODELS } from '../../../src/catalog/models.js';
import type { ChatInput, Sampling } from '../../../src/domain/chat.js';
import { capabilitiesOf, lacking, lackingReason, usableModels } from '../../../src/engine/capabilities.js';

const catalog = new CatalogSnapshot({
  models: [
    ...BUILTIN_MODELS,
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'routed-o3', aliases: [], upstreamId: 'openai/o3' },
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'claude-test', aliases: [], upstreamId: 'claude-sonnet-4-5' },
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'gpt-5.1-test', aliases: [], upstreamId: 'gpt-5.1' },
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'gpt-5.2-mini-test', aliases: [], upstreamId: 'openai/gpt-5.2-mini' },
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'chat-latest-test', aliases: [], upstreamId: 'gpt-5.1-chat-latest' },
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'gpt-5.2-pro-test', aliases: [], upstreamId: 'gpt-5.2-pro' },
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'o3-mini-test', aliases: [], upstreamId: 'o3-mini-2025-01-31' },
    { ...BUILTIN_MODELS.find((m) => m.id === 'gpt-4o-mini')!, id: 'o1-test', aliases: [], upstreamId: 'o1' },
  ],
  providers: new Map([['openai', 'openai']]),
});
const model = (id: string) => catalog.find(id)!;
const input = (sampling?: Sampling): ChatInput => ({
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0.7,
  maxTokens: undefined,
  sampling,
});

describe('sampling parameters on reasoning models', () => {
  it.each(['o3', 'o4-mini', 'gpt-5', 'gpt-5-nano', 'routed-o3'])('%s lacks them only when a refused field is set', (id) => {
    expect(lacking(model(id), capabilitiesOf(input()))).toEqual([]);
    expect(lacking(model(id), capabilitiesOf(input({ seed: 1, user: 'u' })))).toEqual([]);
    expect(lacking(model(id), capabilitiesOf(input({ topP: 0.5 })))).toEqual(['top_p']);
    expect(lackingReason(model(id), capabilitiesOf(input({ presencePenalty: 0.1, frequencyPenalty: 0 })))).toBe(
      'does not take presence_penalty, frequency_penalty',
    );
  });

  it('other models take them', () => {
    const all = capabilitiesOf(input({ topP: 0.5, presencePenalty: 1, frequencyPenalty: -1 }));
    expect(lacking(model('gpt-4o-mini'), all)).toEqual([]);
    expect(lacking(model('gpt-4.1'), all)).toEqual([]);
  });

  it('a chain keeps the models that take them; a chain of none is refused by each field', () => {
    const required = capabilitiesOf(input({ topP: 0.5 }));
    const pair = (id: string, field: string) => ({ model: model(id), ref: { name: id, field } });
    const kept = usableModels([pair('o3', 'models[0]'), pair('gpt-4o-mini', 'models[1]')], required);
    expect(kept.usable.map((p) => p.model.id)).toEqual(['gpt-4o-mini']);
    expect(kept.violations).toEqual([]);
    const refused = usableModels([pair('o3', 'model')], required);
    expect(refused.violations).toEqual([
      { field: 'model', description: 'o3 does not take top_p, which this request uses: choose a model that does' },
    ]);
  });
});

describe('stop on reasoning models', () => {
  const stop = capabilitiesOf(input({ stop: ['END'] }));

  it.each(['o3', 'o4-mini', 'gpt-5', 'gpt-5-nano', 'routed-o3', 'gpt-5.1-test', 'gpt-5.2-mini-test', 'gpt-5.2-pro-test'])(
    '%s lacks it, whatever the reasoning effort',
    (id) => {
      expect(lacking(model(id), stop)).toEqual(['stop']);
      expect(lacking(model(id), capabilitiesOf(input({ stop: ['END'], reasoningEffort: 'none' })))).toContain('stop');
      expect(lackingReason(model(id), capabilitiesOf(input({ stop: ['END'], topP: 0.5 })))).toMatch(/^does not take (top_p, )?stop$/);
    },
  );

  it.each(['gpt-4o-mini', 'gpt-4.1', 'claude-test', 'chat-latest-test', 'o3-mini-test', 'o1-test'])('%s takes it', (id) => {
    expect(lacking(model(id), stop)).toEqual([]);
  });

  it('a chain keeps the models that take it; a chain of none is refused by each field', () => {
    const pair = (id: string, field: string) => ({ model: model(id), ref: { name: id, field } });
    const kept = usableModels([pair('o3', 'models[0]'), pair('gpt-4o-mini', 'models[1]')], stop);
    expect(kept.usable.map((p) => p.model.id)).toEqual(['gpt-4o-mini']);
    expect(usableModels([pair('gpt-5', 'model')], stop).violations).toEqual([
      { field: 'model', description: 'gpt-5 does not take stop, which this request uses: choose a model that does' },
    ]);
  });
});

describe('reasoning_effort', () => {
  const effort = capabilitiesOf(input({ reasoningEffort: 'low' }));

  it.each(['o3', 'o4-mini', 'gpt-5', 'gpt-5-nano', 'routed-o3'])('%s, a reasoning model, takes it', (id) => {
    expect(lacking(model(id), effort)).toEqual([]);
  });

  it.each(['gpt-5.1-test', 'gpt-5.2-mini-test'])(
    '%s, a GPT-5 version that reasons when asked, takes it, and the sampling parameters unless it reasons',
    (id) => {
      expect(lacking(model(id), effort)).toEqual([]);
      expect(lacking(model(id), capabilitiesOf(input({ topP: 0.5 })))).toEqual([]);
      expect(lacking(model(id), capabilitiesOf(input({ topP: 0.5, presencePenalty: 1, reasoningEffort: 'none' })))).toEqual([]);
      expect(lacking(model(id), capabilitiesOf(input({ topP: 0.5, presencePenalty: 1, reasoningEffort: 'low' })))).toEqual([
        'top_p',
        'presence_penalty',
      ]);
    },
  );

  it('a -pro GPT-5 version always reasons: it takes reasoning_effort and never the sampling parameters', () => {
    expect(lacking(model('gpt-5.2-pro-test'), effort)).toEqual([]);
    expect(lacking(model('gpt-5.2-pro-test'), capabilitiesOf(input({ topP: 0.5 })))).toEqual(['top_p']);
  });

  it.each(['gpt-4o-mini', 'gpt-4.1', 'claude-test', 'chat-latest-test'])('%s lacks it, and only when it is set', (id) => {
    expect(lacking(model(id), capabilitiesOf(input({ seed: 1 })))).toEqual([]);
    expect(lacking(model(id), effort)).toEqual(['reasoning_effort']);
    expect(lackingReason(model(id), effort)).toBe('does not take reasoning_effort');
  });

  it('a chain keeps the reasoning models; a chain of none is refused by each field', () => {
    const pair = (id: string, field: string) => ({ model: model(id), ref: { name: id, field } });
    const kept = usableModels([pair('gpt-4o-mini', 'models[0]'), pair('o3', 'models[1]')], effort);
    expect(kept.usable.map((p) => p.model.id)).toEqual(['o3']);
    expect(usableModels([pair('gpt-4o-mini', 'model')], effort).violations).toEqual([
      { field: 'model', description: 'gpt-4o-mini does not take reasoning_effort, which this request uses: choose a model that does' },
    ]);
  });
});

describe('reasoning_effort levels', () => {
  const at = (reasoningEffort: Sampling['reasoningEffort']) => capabilitiesOf(input({ reasoningEffort }));

  it('a model lacks a level it does not take, named with the levels it takes', () => {
    expect(lacking(model('o3'), at('minimal'))).toEqual(['reasoning_effort minimal (it takes low, medium, high)']);
    expect(lackingReason(model('gpt-5'), at('none'))).toBe('does not take reasoning_effort none (it takes minimal, low, medium, high)');
    expect(lacking(model('gpt-5.1-test'), at('xhigh'))).toEqual(['reasoning_effort xhigh (it takes none, low, medium, high)']);
    expect(lacking(model('o3'), at('high'))).toEqual([]);
    expect(lacking(model('gpt-5'), at('minimal'))).toEqual([]);
  });

  it('a model reached through an aggregator, or whose levels are not documented, takes every level', () => {
    expect(lacking(model('routed-o3'), at('xhigh'))).toEqual([]);
    expect(lacking(model('gpt-5.2-pro-test'), at('max'))).toEqual([]);
  });

  it('a chain keeps the models that take the level; a chain of none is refused by each field', () => {
    const pair = (id: string, field: string) => ({ model: model(id), ref: { name: id, field } });
    const kept = usableModels([pair('o3', 'models[0]'), pair('gpt-5', 'models[1]')], at('minimal'));
    expect(kept.usable.map((p) => p.model.id)).toEqual(['gpt-5']);
    expect(usableModels([pair('o4-mini', 'model')], at('none')).violations).toEqual([
      {
        field: 'model',
        description:
          'o4-mini does not take reasoning_effort none (it takes low, medium, high), which this request uses: choose a model that does',
      },
    ]);
  });
});
