import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import { OpenAIProvider } from '../../../src/providers/openai/provider.js';
import type { Provider, ProviderRequest } from '../../../src/providers/types.js';
import { upstreamRequestIdOf } from '../../../src/providers/upstream-request-id.js';
import { type RecordingUpstream, startRecordingUpstream } from '../../helpers/recording-upstream.js';

/**
 * A failure keeps the upstream's own id of the request (OpenAI's `x-request-id`, Anthropic's
 * `request-id`) whenever the upstream sent one: an HTTP error status, an answer that turns out
 * broken, a stream that fails after its headers.
 */
let reply: (res: http.ServerResponse) => void = (res) => res.end();
let upstream: RecordingUpstream;
beforeAll(async () => {
  upstream = await startRecordingUpstream((_body, res) => reply(res));
});
afterAll(async () => {
  await upstream.close();
});

const request = (): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
  maxTokens: 10,
  signal: new AbortController().signal,
});

async function failure(provider: Provider, stream: boolean): Promise<OrchestratorError> {
  const err = await (stream
    ? (async () => {
        for await (const _ of provider.stream(request()));
      })()
    : provider.complete(request())
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof OrchestratorError)) throw new Error(`not an OrchestratorError: ${String(err)}`);
  return err;
}

const json = (status: number, headers: Record<string, string>, body: unknown) => (res: http.ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const sse = (headers: Record<string, string>, text: string) => (res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', ...headers });
  res.end(text);
};

describe('OpenAI-compatible upstreams: x-request-id', () => {
  const id = { 'x-request-id': 'req_0123abc' };
  // With a query in its base URL the client takes the SDK's own request path; without, ours.
  for (const path of ['direct', 'sdk'] as const) {
    const provider = () =>
      new OpenAIProvider({ name: 'up', baseURL: path === 'sdk' ? `${upstream.baseURL}?tenant=1` : upstream.baseURL, apiKey: 'k' });
    it(`${path}: an error status, unary and streamed`, async () => {
      reply = json(503, id, { error: { message: 'busy' } });
      for (const stream of [false, true]) {
        expect(await failure(provider(), stream)).toMatchObject({
          reason: 'UPSTREAM_ERROR',
          metadata: { upstream_status: '503', upstream_request_id: 'req_0123abc' },
        });
      }
    });

    it(`${path}: a 200 whose body is an error (OpenRouter)${path === 'direct' ? ', or not JSON' : ''}`, async () => {
      reply = json(200, id, { error: { code: 502, message: 'provider down' } });
      expect(await failure(provider(), false)).toMatchObject({
        reason: 'UPSTREAM_ERROR',
        metadata: { upstream_request_id: 'req_0123abc' },
      });
      // The SDK parses the body before it hands over the response's headers.
      if (path === 'sdk') return;
      reply = (res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...id });
        res.end('{"choices": [');
      };
      expect(await failure(provider(), false)).toMatchObject({
        reason: 'UPSTREAM_MALFORMED_RESPONSE',
        metadata: { upstream_request_id: 'req_0123abc' },
      });
    });
  }

  it('a stream that ends without a finish reason, or reports an error in a chunk', async () => {
    const provider = new OpenAIProvider({ name: 'up', baseURL: upstream.baseURL, apiKey: 'k' });
    const chunk = (delta: object) => `data: ${JSON.stringify({ choices: [{ index: 0, delta }] })}\n\n`;
    reply = sse(id, chunk({ content: 'Hel' }));
    expect(await failure(provider, true)).toMatchObject({ reason: 'STREAM_TRUNCATED', metadata: { upstream_request_id: 'req_0123abc' } });
    reply = sse(id, `${chunk({ content: 'Hel' })}data: {"error":{"message":"overloaded"}}\n\n`);
    expect(await failure(provider, true)).toMatchObject({ reason: 'STREAM_TRUNCATED', metadata: { upstream_request_id: 'req_0123abc' } });
  });

  it('keeps only printable ASCII of the header, at most 128 characters of it', async () => {
    const provider = new OpenAIProvider({ name: 'up', baseURL: upstream.baseURL, apiKey: 'k' });
    reply = json(500, { 'x-request-id': `req\u00e9_${'x'.repeat(300)}` }, {});
    expect((await failure(provider, false)).metadata.upstream_request_id).toBe(`req_${'x'.repeat(124)}`);
    // Without the header, or with nothing printable in it, there is no id.
    reply = json(500, {}, {});
    expect((await failure(provider, false)).metadata).not.toHaveProperty('upstream_request_id');
    reply = json(500, { 'x-request-id': '\u00e9\u00e9' }, {});
    expect((await failure(provider, false)).metadata).not.toHaveProperty('upstream_request_id');
  });

  it('keeps the first id of a header sent twice (a proxy adding its own): a comma would split the ids list', async () => {
    const provider = new OpenAIProvider({ name: 'up', baseURL: upstream.baseURL, apiKey: 'k' });
    reply = (res) => {
      res.writeHead(500, [
        ['content-type', 'application/json'],
        ['x-request-id', 'req_first'],
        ['x-request-id', 'proxy-2'],
      ]);
      res.end('{}');
    };
    expect((await failure(provider, false)).metadata.upstream_request_id).toBe('req_first');
  });
});

describe('Anthropic: request-id', () => {
  const id = { 'request-id': 'req_011CabcD' };
  const provider = () => new AnthropicProvider({ name: 'claude', baseURL: upstream.baseURL.replace(/\/v1$/, ''), apiKey: 'k' });
  const event = (data: { type: string }) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
  const start = event({
    type: 'message_start',
    message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'm', usage: { input_tokens: 3, output_tokens: 1 } },
  } as { type: string });

  it('an error status, unary and streamed', async () => {
    reply = json(529, id, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    for (const stream of [false, true]) {
      expect(await failure(provider(), stream)).toMatchObject({
        reason: 'UPSTREAM_ERROR',
        metadata: { upstream_status: '529', upstream_request_id: 'req_011CabcD' },
      });
    }
  });

  it('a 200 answer without a stop_reason', async () => {
    reply = json(200, id, { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'm', stop_reason: null });
    expect(await failure(provider(), false)).toMatchObject({
      reason: 'STREAM_TRUNCATED',
      metadata: { upstream_request_id: 'req_011CabcD' },
    });
  });

  it('a stream that reports an error event, or ends without message_stop', async () => {
    reply = sse(id, `${start}event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`);
    expect(await failure(provider(), true)).toMatchObject({
      reason: 'UPSTREAM_ERROR',
      metadata: { upstream_status: '529', upstream_request_id: 'req_011CabcD' },
    });
    reply = sse(id, start);
    expect(await failure(provider(), true)).toMatchObject({
      reason: 'STREAM_TRUNCATED',
      metadata: { upstream_request_id: 'req_011CabcD' },
    });
  });
});

describe('upstreamRequestIdOf', () => {
  const headers = (value: string | null) => ({ get: () => value });
  it('trims, drops control characters and anything past ASCII', () => {
    expect(upstreamRequestIdOf(headers('  req_1\u0000\u001b[31m\u2028  '), 'x-request-id')).toBe('req_1[31m');
    expect(upstreamRequestIdOf(headers(null), 'x-request-id')).toBeUndefined();
    expect(upstreamRequestIdOf(undefined, 'x-request-id')).toBeUndefined();
  });

  it('never has a comma, the separator of upstream_request_ids: the first value of a list, nothing of a list of none', () => {
    expect(upstreamRequestIdOf(headers('req_a, req_b'), 'x-request-id')).toBe('req_a');
    expect(upstreamRequestIdOf(headers('req,a'), 'x-request-id')).toBe('req');
    expect(upstreamRequestIdOf(headers(' , req_b'), 'x-request-id')).toBeUndefined();
    expect(upstreamRequestIdOf(headers(','), 'x-request-id')).toBeUndefined();
  });
});
