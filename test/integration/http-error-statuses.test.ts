import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * What a plain HTTP client reads from the OpenAI-compatible API when a call fails: the status,
 * the error's type and code, and when to come back (Retry-After in seconds, retry-after-ms,
 * retry_after_ms in the body), row by row of docs/openai-api.md "Errors".
 */
interface ErrorBody {
  readonly error: { type: string; message: string; code: string; reason: string; param: string | null; retry_after_ms?: number };
}

/** A breaker's cool-down left (of a minute, opened moments ago) as the HTTP door says it: ms, body and Retry-After agree. */
function expectCoolDownLeft(headers: Headers, body: ErrorBody): number {
  const ms = Number(headers.get('retry-after-ms'));
  expect(ms).toBeGreaterThan(50_000);
  expect(ms).toBeLessThanOrEqual(60_000);
  expect(body.error.retry_after_ms).toBe(ms);
  expect(headers.get('retry-after')).toBe(String(Math.ceil(ms / 1000)));
  expect(headers.get('x-should-retry')).toBeNull();
  return ms;
}

/** The gRPC door's pushback for the same refusal: no longer than the HTTP door's wait, and a RetryInfo. */
function expectPushback(refused: Awaited<ReturnType<typeof unaryError>>, ms: number): void {
  const pushback = Number(refused.metadata.get('grpc-retry-pushback-ms')[0]);
  expect(pushback).toBeGreaterThan(50_000);
  expect(pushback).toBeLessThanOrEqual(ms);
  expect(refused.decoded.retryInfo?.retryDelay).toBeDefined();
}

describe('HTTP error statuses and when to retry', () => {
  let h: Harness;
  let base: string;
  const post = async (body: Record<string, unknown>) => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 8, ...body }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as ErrorBody };
  };
  beforeAll(async () => {
    // One failure opens a breaker, and it stays open for the whole file.
    h = await startHarness({ env: { BREAKER_CONSECUTIVE_FAILURES: '1', BREAKER_HALF_OPEN_AFTER_MS: '60000', BREAKER_FAILURE_RATE: '1' } });
    base = h.app.http!.url;
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.clearFaults());

  it("502 with the provider's Retry-After when the provider rate limits the gateway", async () => {
    h.upstream.injectFault({ kind: 'rate_limit', retryAfter: '30', model: 'gpt-4.1-nano' });
    const { status, headers, body } = await post({ model: 'gpt-4.1-nano' });
    expect(status).toBe(502);
    expect(body.error).toMatchObject({ type: 'upstream_error', reason: 'UPSTREAM_RATE_LIMITED', retry_after_ms: 30_000 });
    expect(headers.get('retry-after')).toBe('30');
    expect(headers.get('retry-after-ms')).toBe('30000');
  });

  it('503 with the breaker cool-down left once a model fails, rounded up to whole seconds', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o', times: 1 });
    expect((await post({ model: 'gpt-4o' })).status).toBe(502);
    const { status, headers, body } = await post({ model: 'gpt-4o' });
    expect(status).toBe(503);
    expect(body.error).toMatchObject({ type: 'service_unavailable_error', reason: 'CIRCUIT_OPEN', code: 'circuit_open' });
    const ms = Number(headers.get('retry-after-ms'));
    expect(ms).toBeGreaterThan(50_000);
    expect(ms).toBeLessThanOrEqual(60_000);
    expect(body.error.retry_after_ms).toBe(ms);
    expect(headers.get('retry-after')).toBe(String(Math.ceil(ms / 1000)));
  });

  it('503, not 502, for a fallback chain every model of which has its breaker open, with the shortest cool-down left as Retry-After', async () => {
    for (const model of ['gpt-4o-mini', 'gpt-4.1-mini']) {
      h.upstream.injectFault({ kind: 'http_error', status: 500, model, times: 1 });
      expect((await post({ model })).status).toBe(502);
    }
    const before = h.upstream.requests.length;
    const { status, headers, body } = await post({
      model: 'gpt-4o-mini',
      orchestrator: { strategy: 'fallback', models: ['gpt-4.1-mini'], disable_default_message: true },
    });
    expect(status).toBe(503);
    expect(body.error).toMatchObject({ type: 'service_unavailable_error', reason: 'ALL_ATTEMPTS_FAILED' });
    // The wait is known: the shortest cool-down left, as for one open breaker, not a default second.
    const ms = expectCoolDownLeft(headers, body);
    expect(h.upstream.requests.length).toBe(before);
    // The gRPC door pushes back by the same cool-down.
    const refused = await unaryError(h.clients.chat.fallback.bind(h.clients.chat), {
      model: 'gpt-4o-mini',
      prompt: 'Say hello',
      messages: [],
      models: ['gpt-4.1-mini'],
      disableDefaultMessage: true,
    });
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expectPushback(refused, ms);
  });

  it('502 for a fallback chain where an upstream failed beside an open breaker', async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4.1', times: 1 });
    expect((await post({ model: 'gpt-4.1' })).status).toBe(502);
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4-turbo', times: 1 });
    const { status, body } = await post({
      model: 'gpt-4.1',
      orchestrator: { strategy: 'fallback', models: ['gpt-4-turbo'], disable_default_message: true },
    });
    expect(status).toBe(502);
    expect(body.error).toMatchObject({ type: 'upstream_error', reason: 'ALL_ATTEMPTS_FAILED' });
  });

  it("503 with the shortest cool-down left for a route whose every candidate's breaker is open", async () => {
    for (const model of ['gpt-4o', 'o4-mini']) {
      h.upstream.injectFault({ kind: 'http_error', status: 500, model, times: 1 });
      await post({ model });
    }
    const before = h.upstream.requests.length;
    const { status, headers, body } = await post({ model: 'route:speed', orchestrator: { route: { candidates: ['gpt-4o', 'o4-mini'] } } });
    expect(status).toBe(503);
    expect(body.error).toMatchObject({ type: 'service_unavailable_error', reason: 'NO_ELIGIBLE_MODEL' });
    // The breakers say when: the same wait as a fallback chain over the same models, not a default second.
    const ms = expectCoolDownLeft(headers, body);
    expect(h.upstream.requests.length).toBe(before);
    const refused = await unaryError(h.clients.chat.chat.bind(h.clients.chat), {
      model: '',
      prompt: 'Say hello',
      messages: [],
      route: { profile: RoutingProfile.ROUTING_PROFILE_SPEED, candidates: ['gpt-4o', 'o4-mini'] },
    });
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.decoded.errorInfo?.reason).toBe('NO_ELIGIBLE_MODEL');
    expectPushback(refused, ms);
  });

  it("503 with the open breaker's cool-down left for a route whose other candidate's window cannot hold the request: only that wait can help", async () => {
    h.upstream.injectFault({ kind: 'http_error', status: 500, model: 'gpt-4o', times: 1 });
    await post({ model: 'gpt-4o' });
    const request = {
      model: 'route:long_context',
      messages: [{ role: 'user', content: 'x '.repeat(20_000) }],
      max_tokens: 4_000,
      orchestrator: { route: { candidates: ['gpt-4o', 'gpt-3.5-turbo'] } },
    };
    const { status, headers, body } = await post(request);
    expect(status).toBe(503);
    expect(body.error).toMatchObject({ type: 'service_unavailable_error', reason: 'NO_ELIGIBLE_MODEL' });
    expect(body.error.message).toMatch(/gpt-4o: circuit breaker open; gpt-3\.5-turbo: context window 16385 </);
    expectCoolDownLeft(headers, body);
    // The breaker's model is refused for its window too once that is too small: no wait helps then.
    const tooLong = await post({ ...request, messages: Array.from({ length: 7 }, () => ({ role: 'user', content: 'x '.repeat(20_000) })) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({ reason: 'PROMPT_TOO_LONG', code: 'context_length_exceeded' });
  });

  it("400 with OpenAI's context_length_exceeded for a prompt no candidate's window holds", async () => {
    const { status, body } = await post({
      model: 'route:long_context',
      messages: [{ role: 'user', content: 'x '.repeat(20_000) }],
      max_tokens: 4_000,
      orchestrator: { route: { candidates: ['gpt-3.5-turbo'] } },
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', reason: 'PROMPT_TOO_LONG', code: 'context_length_exceeded' });
  });
});

describe('HTTP error status with no provider for the model', () => {
  it('503, not a 500 bug, for a model no configured provider serves', async () => {
    const h = await startHarness({ noOpenAiShorthand: true });
    try {
      const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as ErrorBody).error).toMatchObject({ type: 'service_unavailable_error', reason: 'MODEL_NOT_AVAILABLE' });
    } finally {
      await h.close();
    }
  });
});
