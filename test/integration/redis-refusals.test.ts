import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessFile, sha } from '../helpers/access-file.js';
import { unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/**
 * When to come back, as a client of either door reads it from a replica whose limits live in
 * Redis: a limit reached (RESOURCE_EXHAUSTED, HTTP 429) and, under REDIS_FAILURE_POLICY=closed,
 * Redis gone (UNAVAILABLE, HTTP 503), each with its delay (docs/operations.md, docs/errors.md).
 */
interface ErrorBody {
  readonly error: { type: string; reason: string; retry_after_ms?: number };
}

describe('refusals of a replica whose limits live in Redis', () => {
  let redis: RedisProcess;
  let h: Harness;
  beforeAll(async () => {
    redis = await startRedis();
    const file = accessFile(`    - { name: nora, sha256: ${sha('nora-secret')}, limits: { requests_per_minute: 1 } }\n`);
    h = await startHarness({ env: { CONFIG_FILE: file, REDIS_URL: redis.url, REDIS_FAILURE_POLICY: 'closed' } });
  }, 20_000);
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  const post = async (key: string) => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as ErrorBody };
  };
  const grpcError = (key: string) =>
    unaryError(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o-mini', prompt: 'hi', messages: [], maxTokens: 4 },
      { metadata: { authorization: `Bearer ${key}` } },
    );
  const retryDelayMs = (err: Awaited<ReturnType<typeof grpcError>>): number => {
    const delay = err.decoded.retryInfo?.retryDelay;
    return delay ? delay.seconds * 1000 + delay.nanos / 1e6 : Number.NaN;
  };

  it('a limit counted in Redis: 429 with Retry-After within the minute, RESOURCE_EXHAUSTED with RetryInfo and pushback', async () => {
    expect((await post('nora-secret')).status).toBe(200);
    const limited = await post('nora-secret');
    expect(limited.status).toBe(429);
    expect(limited.body.error.reason).toBe('RATE_LIMITED');
    const seconds = Number(limited.headers.get('retry-after'));
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    const refused = await grpcError('nora-secret');
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(retryDelayMs(refused)).toBeGreaterThan(0);
    expect(retryDelayMs(refused)).toBeLessThanOrEqual(60_000);
    expect(Number(refused.metadata.get('grpc-retry-pushback-ms')[0])).toBeGreaterThan(0);
  });

  it('Redis gone: 503 with Retry-After 1, UNAVAILABLE with RetryInfo 1 s and pushback 1000', async () => {
    await redis.stop();
    const down = await post('nora-secret');
    expect(down.status).toBe(503);
    expect(down.body.error).toMatchObject({ type: 'service_unavailable_error', reason: 'SHARED_STATE_UNAVAILABLE', retry_after_ms: 1_000 });
    expect(down.headers.get('retry-after')).toBe('1');
    const refused = await grpcError('nora-secret');
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.decoded.errorInfo?.reason).toBe('SHARED_STATE_UNAVAILABLE');
    expect(retryDelayMs(refused)).toBe(1_000);
    expect(refused.metadata.get('grpc-retry-pushback-ms')).toEqual(['1000']);
  });
});
