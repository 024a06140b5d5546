import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sampling } from '../../../../src/domain/chat.js';
import { OpenAIProvider, type OpenAIProviderOptions } from '../../../../src/providers/openai/provider.js';
import { sendChatCompletion } from '../../../helpers/chat-completion.js';
import { type RecordingUpstream, startRecordingUpstream } from '../../../helpers/recording-upstream.js';

/**
 * The answer's length limit goes out under the name the upstream knows: `max_tokens` for the
 * OpenAI-compatible servers (Ollama, vLLM, LM Studio), `max_completion_tokens` when the provider's
 * `max_tokens_field` asks for it (OpenAI's reasoning models refuse `max_tokens`). The other name is
 * never sent beside it.
 */
let upstream: RecordingUpstream;

beforeAll(async () => {
  upstream = await startRecordingUpstream((body, res) => {
    if (body.stream !== true) {
      sendChatCompletion(res, { role: 'assistant', content: 'ok' }, { usage: { prompt: 1, completion: 1 } });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = {
      id: 'c',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }],
    };
    res.end(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`);
  });
});
afterAll(() => upstream.close());

async function sentWith(options: Partial<OpenAIProviderOptions>, stream = false): Promise<Record<string, unknown>> {
  const provider = new OpenAIProvider({ name: 'p', baseURL: upstream.baseURL, apiKey: 'k', ...options });
  const request = {
    upstreamModel: 'm',
    messages: [{ role: 'user' as const, content: 'hi' }],
    temperature: 0,
    maxTokens: 37,
    signal: new AbortController().signal,
  };
  try {
    if (stream) for await (const _ of provider.stream(request));
    else await provider.complete(request);
  } finally {
    await provider.close();
  }
  return upstream.bodies.at(-1)!;
}

describe('the length limit sent to an OpenAI-compatible upstream', () => {
  it('is max_tokens by default for a server other than api.openai.com', async () => {
    const body = await sentWith({});
    expect(body.max_tokens).toBe(37);
    expect(body).not.toHaveProperty('max_completion_tokens');
  });

  it('is max_completion_tokens when the provider names that field', async () => {
    const body = await sentWith({ maxTokensField: 'max_completion_tokens' });
    expect(body.max_completion_tokens).toBe(37);
    expect(body).not.toHaveProperty('max_tokens');
  });
});

describe('a streamed request to an OpenAI-compatible upstream', () => {
  // Without include_usage OpenAI sends no usage chunk, and every stream would be charged an estimate.
  it('asks for the usage chunk, and a unary one carries no stream options', async () => {
    const streamed = await sentWith({}, true);
    expect(streamed).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_tokens: 37 });
    const unary = await sentWith({});
    expect(unary.stream).toBe(false);
    expect(unary).not.toHaveProperty('stream_options');
  });
});

describe('reasoning_effort sent to an OpenAI-compatible upstream', () => {
  it.each([false, true])('goes out by its Chat Completions name (stream %s), and not at all when unset', async (stream) => {
    const provider = new OpenAIProvider({ name: 'p', baseURL: upstream.baseURL, apiKey: 'k' });
    const request = (sampling?: Sampling) => ({
      upstreamModel: 'o3',
      messages: [{ role: 'user' as const, content: 'hi' }],
      temperature: 1,
      maxTokens: 37,
      signal: new AbortController().signal,
      sampling,
    });
    try {
      for (const sampling of [{ reasoningEffort: 'minimal' as const }, undefined]) {
        if (stream) for await (const _ of provider.stream(request(sampling)));
        else await provider.complete(request(sampling));
        const body = upstream.bodies.at(-1)!;
        if (sampling) expect(body.reasoning_effort).toBe('minimal');
        else expect(body).not.toHaveProperty('reasoning_effort');
      }
    } finally {
      await provider.close();
    }
  });
});
