import { describe, expect, it } from 'vitest';
import { circuitOpen, modelNotServed } from '../../../src/domain/call-errors.js';
import { draining } from '../../../src/domain/errors.js';
import { upstreamAuthFailed, upstreamFailed } from '../../../src/domain/upstream-errors.js';
import { toHttpError } from '../../../src/http/errors.js';

/** The openai SDKs retry 408, 409, 429 and every 5xx twice unless `x-should-retry: false` says not to. */
describe('toHttpError: whether the SDKs are told to retry', () => {
  const advice = (err: Error) => {
    const { status, headers } = toHttpError(err, 'r');
    return { status, shouldRetry: headers['x-should-retry'], retryAfter: headers['retry-after'] };
  };

  it('tells them not to retry a failure no retry mends, with no time to come back at', () => {
    expect(advice(upstreamAuthFailed('openai', 401, {}))).toEqual({ status: 502, shouldRetry: 'false', retryAfter: undefined });
    expect(advice(modelNotServed('claude-sonnet-4', 'anthropic'))).toEqual({ status: 503, shouldRetry: 'false', retryAfter: undefined });
  });

  it('leaves their retries to a failure a retry or a wait may mend', () => {
    expect(advice(upstreamFailed('openai', 500, undefined, {}))).toEqual({ status: 502, shouldRetry: undefined, retryAfter: undefined });
    expect(advice(draining())).toEqual({ status: 503, shouldRetry: undefined, retryAfter: '1' });
    expect(advice(circuitOpen('gpt-4o', 5_000))).toEqual({ status: 503, shouldRetry: undefined, retryAfter: '5' });
    expect(advice(circuitOpen('gpt-4o', undefined))).toEqual({ status: 503, shouldRetry: undefined, retryAfter: '1' });
  });
});
