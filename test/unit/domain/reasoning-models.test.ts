import { describe, expect, it } from 'vitest';
import {
  isReasoningModel,
  REASONING_EFFORTS,
  reasoningEffortsOf,
  refusedStopOf,
  takesReasoningEffort,
  takesStop,
} from '../../../src/domain/reasoning-models.js';

/**
 * OpenAI documents which reasoning_effort levels some models take: o1, o3 and o4-mini low to high;
 * gpt-5 (-mini, -nano) minimal to high; gpt-5-pro high only; gpt-5.1 none to high; gpt-5.2 none to
 * xhigh. Any other level is an HTTP 400 there. A model whose levels nobody documents takes any level.
 */
describe('the reasoning_effort levels a model takes', () => {
  it.each([
    ['o1', ['low', 'medium', 'high']],
    ['o3', ['low', 'medium', 'high']],
    ['o3-mini', ['low', 'medium', 'high']],
    ['o4-mini', ['low', 'medium', 'high']],
    ['o4-mini-2025-04-16', ['low', 'medium', 'high']],
    ['gpt-5', ['minimal', 'low', 'medium', 'high']],
    ['gpt-5-mini', ['minimal', 'low', 'medium', 'high']],
    ['gpt-5-nano-2025-08-07', ['minimal', 'low', 'medium', 'high']],
    ['gpt-5-pro', ['high']],
    ['gpt-5.1', ['none', 'low', 'medium', 'high']],
    ['GPT-5.1-2025-11-13', ['none', 'low', 'medium', 'high']],
    ['gpt-5.2', ['none', 'low', 'medium', 'high', 'xhigh']],
  ])('%s takes %j', (model, levels) => {
    expect(reasoningEffortsOf(model)).toEqual(levels);
    for (const level of REASONING_EFFORTS) expect(takesReasoningEffort(model, level)).toBe(levels.includes(level));
    expect(takesReasoningEffort(model)).toBe(true);
  });

  it.each(['gpt-5.2-pro', 'gpt-5.2-mini', 'gpt-5.4', 'gpt-5.6'])('%s, whose levels are not documented, takes any', (model) => {
    expect(reasoningEffortsOf(model)).toEqual(REASONING_EFFORTS);
    for (const level of REASONING_EFFORTS) expect(takesReasoningEffort(model, level)).toBe(true);
  });

  // A vendor prefix means an aggregator (OpenRouter), which maps every level onto what the model takes.
  it.each(['openai/o1', 'openai/gpt-5', 'openai/gpt-5.1'])('%s, reached through an aggregator, takes any', (model) => {
    expect(reasoningEffortsOf(model)).toEqual(REASONING_EFFORTS);
    expect(takesReasoningEffort(model, 'xhigh')).toBe(true);
  });

  it.each(['gpt-4o', 'gpt-5-chat-latest', 'openai/gpt-4o'])('%s takes none', (model) => {
    expect(reasoningEffortsOf(model)).toEqual([]);
    expect(takesReasoningEffort(model)).toBe(false);
    expect(takesReasoningEffort(model, 'low')).toBe(false);
  });

  // They came before reasoning_effort: OpenAI answers it with "Unknown parameter" there.
  it.each(['o1-mini', 'o1-mini-2024-09-12', 'o1-preview'])('%s, a reasoning model, takes none', (model) => {
    expect(isReasoningModel(model)).toBe(true);
    expect(reasoningEffortsOf(model)).toEqual([]);
    expect(takesReasoningEffort(model)).toBe(false);
  });
});

/**
 * OpenAI answers `stop` on o3 (not o3-mini), o4-mini and every GPT-5 model with HTTP 400
 * (unsupported_parameter), whatever the reasoning effort; o1 and o3-mini take it. A model nobody
 * says refuses it takes it: its upstream decides.
 */
describe('the models that take stop', () => {
  it.each([
    'o3',
    'o3-2025-04-16',
    'o3-pro',
    'o3-pro-2025-06-10',
    'o4-mini',
    'O4-MINI-2025-04-16',
    'gpt-5',
    'gpt-5-mini',
    'gpt-5-nano-2025-08-07',
    'gpt-5-pro',
    'gpt-5.1',
    'gpt-5.1-2025-11-13',
    'gpt-5.2',
    'gpt-5.2-pro',
    'gpt-5.4-mini',
    'gpt-5.4-nano',
    'openai/o3',
    'openai/gpt-5.1',
  ])('%s refuses it', (model) => {
    expect(takesStop(model)).toBe(false);
  });

  it.each([
    'o1',
    'o1-2024-12-17',
    'o1-mini',
    'o1-preview',
    'o3-mini',
    'o3-mini-2025-01-31',
    'openai/o3-mini',
    'gpt-4o',
    'gpt-4.1-nano',
    'gpt-5-chat-latest',
    'claude-sonnet-4-5',
    'llama3.1:8b',
  ])('%s takes it', (model) => {
    expect(takesStop(model)).toBe(true);
  });

  it('is asked of a request by its API name, and only when set', () => {
    expect(refusedStopOf(undefined)).toEqual([]);
    expect(refusedStopOf({ seed: 1, topP: 0.5 })).toEqual([]);
    expect(refusedStopOf({ stop: ['END'] })).toEqual(['stop']);
  });
});
