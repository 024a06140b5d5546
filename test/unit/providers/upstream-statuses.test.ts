import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { OpenAIProvider } from '../../../src/providers/openai/provider.js';
import type { ProviderRequest } from '../../../src/providers/types.js';
import { type RecordingUpstream, startRecordingUpstream } from '../../helpers/recording-upstream.js';

/**
 * Each HTTP status an upstream answers with, as the caller and the retry policy see it: its
 * reason, its kind (the gRPC code), and the upstream's Retry-After. docs/errors.md lists them.
 */
let status = 500;
let upstream: RecordingUpstream;
let provider: OpenAIProvider;
beforeAll(async () => {
  upstream = await startRecordingUpstream((_body, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '7' });
    res.end('{"error":{"message":"no"}}');
  });
  provider = new OpenAIProvider({ name: 'up', baseURL: upstream.baseURL, apiKey: 'k' });
});
afterAll(async () => {
  await provider.close();
  await upstream.close();
});

const request = (): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
  maxTokens: 10,
  signal: new AbortController().signal,
});

async function failure(stream: boolean): Promise<OrchestratorError> {
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

describe('an upstream error status', () => {
  it.each([
    [400, 'invalid_argument', 'UPSTREAM_REJECTED_REQUEST', undefined],
    [401, 'unavailable', 'UPSTREAM_AUTH_FAILED', undefined],
    [402, 'unavailable', 'UPSTREAM_AUTH_FAILED', undefined],
    [403, 'unavailable', 'UPSTREAM_AUTH_FAILED', undefined],
    [404, 'unavailable', 'MODEL_NOT_AVAILABLE', undefined],
    [408, 'unavailable', 'UPSTREAM_ERROR', 7000],
    [413, 'invalid_argument', 'UPSTREAM_REJECTED_REQUEST', undefined],
    [429, 'unavailable', 'UPSTREAM_RATE_LIMITED', 7000],
    [500, 'unavailable', 'UPSTREAM_ERROR', 7000],
    [503, 'unavailable', 'UPSTREAM_ERROR', 7000],
  ])('%i fails as %s %s, unary and streamed', async (code, kind, reason, retryAfterMs) => {
    status = code;
    for (const stream of [false, true]) {
      const err = await failure(stream);
      expect([err.kind, err.reason, err.metadata.upstream_status]).toEqual([kind, reason, String(code)]);
      if (retryAfterMs !== undefined) expect(err.retryAfterMs).toBe(retryAfterMs);
    }
  });
});
