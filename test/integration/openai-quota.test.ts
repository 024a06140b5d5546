import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeConfigFile } from '../helpers/config-file.js';
import { collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { type RecordingUpstream, startRecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * An OpenAI account with no quota left answers every request with a 429 `insufficient_quota`.
 * The caller learns the provider refused the gateway's account (UNAVAILABLE UPSTREAM_AUTH_FAILED,
 * HTTP 502), after one upstream request: retries would only meet the same refusal.
 */
const QUOTA = JSON.stringify({
  error: {
    message: 'You exceeded your current quota, please check your plan and billing details.',
    type: 'insufficient_quota',
    param: null,
    code: 'insufficient_quota',
  },
});
const RATE_LIMIT = JSON.stringify({
  error: { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' },
});

describe('an OpenAI account out of quota', () => {
  let body = QUOTA;
  let upstream: RecordingUpstream;
  let h: Harness;
  beforeAll(async () => {
    upstream = await startRecordingUpstream((_body, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'x-request-id': 'req_quota' });
      res.end(body);
    });
    const file = writeConfigFile(`providers:
  - { name: openai, kind: openai, base_url: "${upstream.baseURL}", api_key_env: QUOTA_KEY }
include_builtin_models: false
models:
  - { id: quota-chat, provider: openai, upstream_id: "gpt-4o-mini", context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0.1, output_price_per_million: 0.2, family: a, tier: small, quality: 0.5 }
`);
    h = await startHarness({
      noOpenAiShorthand: true,
      // Retries on, and neither the retry budget nor the breaker stepping in before they would run.
      env: {
        CONFIG_FILE: file,
        DEFAULT_MODEL: 'quota-chat',
        RETRY_MAX_ATTEMPTS: '3',
        RETRY_BUDGET_MAX_TOKENS: '1000',
        BREAKER_CONSECUTIVE_FAILURES: '1000',
      },
      processEnv: { QUOTA_KEY: 'k' },
    });
  });
  afterAll(async () => {
    await h?.close();
    await upstream?.close();
  });
  beforeEach(() => {
    body = QUOTA;
  });

  /** What `call` resolves with, and how many requests reached the upstream meanwhile. */
  const sent = async <T>(call: () => Promise<T>): Promise<{ value: T; requests: number }> => {
    const before = upstream.bodies.length;
    const value = await call();
    return { value, requests: upstream.bodies.length - before };
  };
  const chat = () => h.clients.chat.chat.bind(h.clients.chat);

  it('Chat and StreamChat: UNAVAILABLE UPSTREAM_AUTH_FAILED after one upstream request', async () => {
    const unary = await sent(() => unaryError(chat(), { model: 'quota-chat', prompt: 'hi', messages: [] }));
    const streamed = await sent(async () => {
      const { error } = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'quota-chat', prompt: 'hi' })));
      return error;
    });
    for (const { value: err, requests } of [unary, streamed]) {
      expect(requests).toBe(1);
      expect(err?.code).toBe(14);
      expect(err?.decoded.errorInfo).toMatchObject({
        reason: 'UPSTREAM_AUTH_FAILED',
        metadata: { provider: 'openai', upstream_status: '429', upstream_request_id: 'req_quota' },
      });
      expect(err?.details).toContain('refused to serve our account (HTTP 429: its quota is used up); check its credits or billing');
      expect(err?.decoded.retryInfo).toBeUndefined();
    }
  });

  it('the HTTP API: 502 upstream_error UPSTREAM_AUTH_FAILED, without Retry-After, after one upstream request', async () => {
    const { value: res, requests } = await sent(() =>
      fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'quota-chat', messages: [{ role: 'user', content: 'hi' }] }),
      }),
    );
    expect(requests).toBe(1);
    expect(res.status).toBe(502);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ type: 'upstream_error', reason: 'UPSTREAM_AUTH_FAILED' });
  });

  it('a plain 429 is still a rate limit, retried', async () => {
    body = RATE_LIMIT;
    const { value: err, requests } = await sent(() => unaryError(chat(), { model: 'quota-chat', prompt: 'hi', messages: [] }));
    expect(requests).toBe(3);
    expect(err.decoded.errorInfo?.reason).toBe('UPSTREAM_RATE_LIMITED');
  });
});
