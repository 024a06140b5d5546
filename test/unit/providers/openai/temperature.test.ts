import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReasoningEffort } from '../../../../src/domain/reasoning-models.js';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import { sendChatCompletion } from '../../../helpers/chat-completion.js';
import { type RecordingUpstream, startRecordingUpstream } from '../../../helpers/recording-upstream.js';

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5, gpt-5-mini, gpt-5-nano) take no
 * temperature but their default: any other value is a 400 ("Unsupported value: 'temperature'
 * does not support 0.7 with this model"). Every request carries one (DEFAULT_TEMPERATURE when
 * the caller sets none), so it is not sent to them.
 */
let upstream: RecordingUpstream;
let provider: OpenAIProvider;

beforeAll(async () => {
  upstream = await startRecordingUpstream((body, res) =>
    sendChatCompletion(res, { role: 'assistant', content: 'ok' }, { model: body.model, usage: { prompt: 1, completion: 1 } }),
  );
  provider = new OpenAIProvider({ name: 'openai', baseURL: upstream.baseURL, apiKey: 'k' });
});
afterAll(async () => {
  await provider.close();
  await upstream.close();
});

const sentFor = async (upstreamModel: string, reasoningEffort?: ReasoningEffort) => {
  await provider.complete({
    upstreamModel,
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0.7,
    maxTokens: 10,
    ...(reasoningEffort ? { sampling: { reasoningEffort } } : {}),
    signal: new AbortController().signal,
  });
  return upstream.bodies.at(-1)!;
};

describe('temperature to OpenAI models', () => {
  it.each([
    'o1',
    'o3',
    'o3-mini',
    'o4-mini',
    'o4-mini-2025-04-16',
    'gpt-5',
    'gpt-5-mini',
    'gpt-5-nano',
    'gpt-5-2025-08-07',
    'openai/gpt-5',
  ])('is not sent to the reasoning model %s', async (model) => {
    expect(await sentFor(model)).not.toHaveProperty('temperature');
  });

  it.each(['gpt-4o-mini', 'gpt-4.1', 'gpt-5-chat-latest', 'llama3.1:8b', 'o3ish'])('is sent to %s', async (model) => {
    expect(await sentFor(model)).toMatchObject({ temperature: 0.7 });
  });

  // The GPT-5 versions after gpt-5 reason only when asked: at reasoning_effort none (their
  // default) they take a temperature, above it they refuse one as the reasoning models do.
  it.each(['gpt-5.1', 'gpt-5.2-mini', 'openai/gpt-5.1'])('is sent to %s unless it is asked to reason', async (model) => {
    expect(await sentFor(model)).toMatchObject({ temperature: 0.7 });
    expect(await sentFor(model, 'none')).toMatchObject({ temperature: 0.7, reasoning_effort: 'none' });
    const reasoning = await sentFor(model, 'low');
    expect(reasoning).toMatchObject({ reasoning_effort: 'low' });
    expect(reasoning).not.toHaveProperty('temperature');
  });

  it('is not sent to a reasoning model at reasoning_effort none either, nor to a -pro GPT-5 version', async () => {
    expect(await sentFor('gpt-5', 'none')).not.toHaveProperty('temperature');
    expect(await sentFor('gpt-5.2-pro')).not.toHaveProperty('temperature');
    expect(await sentFor('gpt-5.1-pro', 'none')).not.toHaveProperty('temperature');
  });
});
