import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../../src/domain/errors.js';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderStreamEvent } from '../../../../src/providers/types.js';
import { type RecordingUpstream, startRecordingUpstream } from '../../../helpers/recording-upstream.js';

/**
 * `stream_options` (asking for the usage chunk) is refused by servers that take no field they do
 * not know: vLLM before 0.4.3 answers a 400 (`extra_forbidden` at ('body', 'stream_options')), as
 * Fireworks and Azure's older API versions did. A stream must not fail for a field only asked
 * for usage.
 */
const VLLM_REFUSAL = {
  object: 'error',
  message: "[{'type': 'extra_forbidden', 'loc': ('body', 'stream_options'), 'msg': 'Extra inputs are not permitted', 'input': {}}]",
  type: 'BadRequestError',
  param: null,
  code: 400,
};

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

function refuse(res: http.ServerResponse, status = 400, body: object = VLLM_REFUSAL): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function answer(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(`${chunk({ content: 'Hello there' })}${chunk({}, 'stop')}data: [DONE]\n\n`);
}

let upstream: RecordingUpstream | undefined;
afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
});

const request = () => ({
  upstreamModel: 'm',
  messages: [{ role: 'user' as const, content: 'hi' }],
  temperature: 0,
  maxTokens: 50,
  signal: new AbortController().signal,
});

async function streamed(provider: OpenAIProvider): Promise<ProviderStreamEvent[] | OrchestratorError> {
  const events: ProviderStreamEvent[] = [];
  try {
    for await (const event of provider.stream(request())) events.push(event);
  } catch (err) {
    if (err instanceof OrchestratorError) return err;
    throw err;
  }
  return events;
}

describe('a stream to an OpenAI-compatible server that refuses stream_options', () => {
  // A base URL with a query takes the SDK's request path; one without, the direct one.
  it.each(['', '?api-version=2024-02-01'])('is sent again without them, and later streams go without (base URL%s)', async (query) => {
    upstream = await startRecordingUpstream((body, res) => (body.stream_options === undefined ? answer(res) : refuse(res)));
    const provider = new OpenAIProvider({ name: 'vllm', baseURL: `${upstream.baseURL}${query}`, apiKey: 'k' });
    try {
      const first = await streamed(provider);
      if (first instanceof OrchestratorError) throw first;
      expect(first.filter((e) => e.type === 'delta').map((e) => e.content)).toEqual(['Hello there']);
      const end = first.at(-1);
      expect(end?.type === 'end' && [end.finishReason, end.usageEstimated]).toEqual(['stop', true]);
      expect(upstream.bodies.map((b) => 'stream_options' in b)).toEqual([true, false]);
      expect(await streamed(provider)).not.toBeInstanceOf(OrchestratorError);
      expect(upstream.bodies.map((b) => 'stream_options' in b)).toEqual([true, false, false]);
    } finally {
      await provider.close();
    }
  });

  it('fails as the upstream refused the request when it refuses the stream without them too', async () => {
    upstream = await startRecordingUpstream((_body, res) => refuse(res, 400, { error: { message: 'prompt too long', code: 400 } }));
    const provider = new OpenAIProvider({ name: 'vllm', baseURL: upstream.baseURL, apiKey: 'k' });
    try {
      const failed = await streamed(provider);
      expect(failed instanceof OrchestratorError && [failed.reason, failed.metadata.upstream_status]).toEqual([
        'UPSTREAM_REJECTED_REQUEST',
        '400',
      ]);
      // Nothing learned: the next stream still asks for usage.
      await streamed(provider);
      expect(upstream.bodies.map((b) => 'stream_options' in b)).toEqual([true, false, true, false]);
    } finally {
      await provider.close();
    }
  });

  it('is sent once, with them, to a server that has taken them', async () => {
    let calls = 0;
    upstream = await startRecordingUpstream((_body, res) =>
      calls++ === 0 ? answer(res) : refuse(res, 400, { error: { message: 'bad' } }),
    );
    const provider = new OpenAIProvider({ name: 'vllm', baseURL: upstream.baseURL, apiKey: 'k' });
    try {
      expect(await streamed(provider)).not.toBeInstanceOf(OrchestratorError);
      expect(await streamed(provider)).toBeInstanceOf(OrchestratorError);
      expect(upstream.bodies.map((b) => 'stream_options' in b)).toEqual([true, true]);
    } finally {
      await provider.close();
    }
  });
});
