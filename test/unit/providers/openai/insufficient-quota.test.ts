import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../../src/domain/errors.js';
import { ERROR_BODY_WAIT_MS } from '../../../../src/providers/http/error-body.js';
import { accountRefusedIn } from '../../../../src/providers/openai/errors.js';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderRequest } from '../../../../src/providers/types.js';
import { type RecordingUpstream, startRecordingUpstream } from '../../../helpers/recording-upstream.js';

/**
 * OpenAI refuses an account with no quota left (no credits, a billing hard limit reached) with a
 * 429 whose error says `insufficient_quota`; until someone pays, every request gets the same
 * answer. It fails as the provider refusing the gateway's account (as a 402 does), not as a rate
 * limit to wait out, on every path a request takes.
 */
const QUOTA_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.';

let body = '';
let upstream: RecordingUpstream;
let direct: OpenAIProvider;
let sdk: OpenAIProvider;
beforeAll(async () => {
  upstream = await startRecordingUpstream((_body, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'x-request-id': 'req_quota' });
    res.end(body);
  });
  direct = new OpenAIProvider({ name: 'openai', baseURL: upstream.baseURL, apiKey: 'k' });
  // A query in the base URL (Azure's api-version) sends every request through the SDK.
  sdk = new OpenAIProvider({ name: 'openai', baseURL: `${upstream.baseURL}?api-version=1`, apiKey: 'k' });
});
afterAll(async () => {
  await Promise.all([direct.close(), sdk.close()]);
  await upstream.close();
});

const request = (): ProviderRequest => ({
  upstreamModel: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  temperature: 0,
  maxTokens: 10,
  signal: new AbortController().signal,
});

async function failureOf(call: () => Promise<unknown>): Promise<OrchestratorError> {
  const err = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof OrchestratorError)) throw new Error(`not an OrchestratorError: ${String(err)}`);
  return err;
}

/** Each way a request reaches an OpenAI-compatible upstream. */
function failures(): Promise<OrchestratorError>[] {
  return [direct, sdk].flatMap((provider) => [
    failureOf(() => provider.complete(request())),
    failureOf(async () => {
      for await (const _ of provider.stream(request()));
    }),
    failureOf(() => provider.embed({ upstreamModel: 'e', inputs: ['hi'], signal: new AbortController().signal })),
  ]);
}

describe('a 429 that says insufficient_quota', () => {
  it.each([
    ['its code and type', { message: QUOTA_MESSAGE, type: 'insufficient_quota', param: null, code: 'insufficient_quota' }],
    ['its type alone (code null)', { message: QUOTA_MESSAGE, type: 'insufficient_quota', param: null, code: null }],
  ])(
    'named by %s: UNAVAILABLE UPSTREAM_AUTH_FAILED, not retried, unary, streamed, through the SDK and for embeddings',
    async (_, error) => {
      body = JSON.stringify({ error });
      for (const failure of await Promise.all(failures())) {
        expect(failure).toMatchObject({
          kind: 'unavailable',
          reason: 'UPSTREAM_AUTH_FAILED',
          retryable: false,
          metadata: { provider: 'openai', upstream_status: '429', upstream_request_id: 'req_quota' },
        });
        expect(failure.message).toBe('openai refused to serve our account (HTTP 429: its quota is used up); check its credits or billing');
      }
    },
  );

  it('a plain 429 stays a rate limit, retried', async () => {
    body = JSON.stringify({
      error: { message: 'Rate limit reached for m on requests per min (RPM)', type: 'requests', param: null, code: 'rate_limit_exceeded' },
    });
    for (const failure of await Promise.all(failures())) {
      expect([failure.reason, failure.retryable]).toEqual(['UPSTREAM_RATE_LIMITED', true]);
    }
  });

  it('another status naming insufficient_quota is classified by its status', async () => {
    // Only the 429 is OpenAI's quota answer; a relay's 400 that mentions it is the request refused.
    body = JSON.stringify({ error: { message: QUOTA_MESSAGE, type: 'insufficient_quota', code: 'insufficient_quota' } });
    const other = await startRecordingUpstream((_body, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(body);
    });
    const provider = new OpenAIProvider({ name: 'openai', baseURL: other.baseURL, apiKey: 'k' });
    try {
      const failure = await failureOf(() => provider.complete(request()));
      expect(failure.reason).toBe('UPSTREAM_REJECTED_REQUEST');
    } finally {
      await provider.close();
      await other.close();
    }
  });

  it('a body that is no JSON, or names the quota elsewhere, stays a rate limit', async () => {
    for (const text of ['insufficient_quota', JSON.stringify({ error: { message: 'insufficient_quota', code: 'rate_limit_exceeded' } })]) {
      body = text;
      for (const failure of await Promise.all(failures())) expect(failure.reason).toBe('UPSTREAM_RATE_LIMITED');
    }
  });

  // The body is read within the bounds of any error body: what came in time and within the limit
  // is read, as the unary path reads it; what did not cannot tell, and the status decides.
  it.each([
    ['whole, its end not come within the error body wait', 'UPSTREAM_AUTH_FAILED', 'stall'],
    ['cut in the middle, its rest not come within the error body wait', 'UPSTREAM_RATE_LIMITED', 'half'],
    ['over UPSTREAM_MAX_BODY_BYTES', 'UPSTREAM_RATE_LIMITED', 'large'],
  ] as const)('a quota body %s: %s, unary and streamed, without waiting past the error body wait', async (_, reason, how) => {
    const quota = JSON.stringify({ error: { message: QUOTA_MESSAGE, type: 'insufficient_quota', code: 'insufficient_quota' } });
    const other = await startRecordingUpstream((_body, res) => {
      res.writeHead(429, { 'content-type': 'application/json' });
      if (how === 'stall') res.write(quota);
      else if (how === 'half') res.write(quota.slice(0, quota.length / 2));
      else res.end(quota + ' '.repeat(2048));
    });
    const provider = new OpenAIProvider({ name: 'openai', baseURL: other.baseURL, apiKey: 'k', maxBodyBytes: 1024 });
    const started = Date.now();
    try {
      const failed = await Promise.all([
        failureOf(() => provider.complete(request())),
        failureOf(async () => {
          for await (const _ of provider.stream(request()));
        }),
      ]);
      for (const failure of failed) expect(failure.reason).toBe(reason);
      expect(Date.now() - started).toBeLessThan(ERROR_BODY_WAIT_MS + 1500);
    } finally {
      await provider.close();
      await other.close();
    }
  });
});

describe('accountRefusedIn', () => {
  const refused = (status: number, text: string | undefined) => accountRefusedIn('openai', { status, text, requestId: undefined })?.reason;
  it('reads the error code or type of a 429, nothing else', () => {
    expect(refused(429, '{"error":{"code":"insufficient_quota"}}')).toBe('UPSTREAM_AUTH_FAILED');
    expect(refused(429, '{"error":{"type":"insufficient_quota","code":null}}')).toBe('UPSTREAM_AUTH_FAILED');
    expect(refused(402, '{"error":{"code":"insufficient_quota"}}')).toBeUndefined();
    expect(refused(429, '{"error":{"code":"rate_limit_exceeded","message":"insufficient_quota"}}')).toBeUndefined();
    expect(refused(429, '{"code":"insufficient_quota"}')).toBeUndefined();
    expect(refused(429, 'null insufficient_quota')).toBeUndefined();
    expect(refused(429, '{"error":"insufficient_quota"}')).toBeUndefined();
    expect(refused(429, undefined)).toBeUndefined();
  });
});
