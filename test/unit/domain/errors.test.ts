import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../../src/domain/chat.js';
import { ZERO_USAGE } from '../../../src/domain/chat.js';
import {
  type ErrorKind,
  OrchestratorError,
  Reason,
  budgetExhausted,
  draining,
  invalidArgument,
  metadataTooLarge,
  modelNotFound,
  rateLimited,
} from '../../../src/domain/errors.js';
import { allAttemptsFailed, circuitOpen, routeNotServed } from '../../../src/domain/call-errors.js';
import { upstreamAuthFailed, upstreamFailed, upstreamModelMissing } from '../../../src/domain/upstream-errors.js';
import {
  ERROR_DOMAIN,
  INTERNAL_MESSAGE,
  STATUS_DETAILS_KEY,
  codeForKind,
  grpcErrorFor,
  summarizeAttempts,
  toGrpcStatus,
} from '../../../src/server/errors.js';
import { decodeStatusDetails } from '../../../src/cli/status-details.js';

const KINDS: ReadonlyArray<[ErrorKind, grpc.status]> = [
  ['invalid_argument', grpc.status.INVALID_ARGUMENT],
  ['not_found', grpc.status.NOT_FOUND],
  ['unauthenticated', grpc.status.UNAUTHENTICATED],
  ['permission_denied', grpc.status.PERMISSION_DENIED],
  ['resource_exhausted', grpc.status.RESOURCE_EXHAUSTED],
  ['failed_precondition', grpc.status.FAILED_PRECONDITION],
  ['deadline_exceeded', grpc.status.DEADLINE_EXCEEDED],
  ['cancelled', grpc.status.CANCELLED],
  ['unavailable', grpc.status.UNAVAILABLE],
  ['internal', grpc.status.INTERNAL],
];

/** One unary method of raw bytes, for a plain grpc-js client with a retry policy. */
const ECHO: grpc.ServiceDefinition = {
  echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

function attempt(model: string, outcome: AttemptRecord['outcome'], error?: OrchestratorError): AttemptRecord {
  return { model, provider: 'simulator', outcome, error, latencyMs: 10, usage: { ...ZERO_USAGE }, costUsd: 0, retry: 0, backoffMs: 0 };
}

describe('toGrpcStatus', () => {
  it.each(KINDS)('maps kind %s to code %i with an ErrorInfo', (kind, code) => {
    const err = new OrchestratorError({ kind, reason: Reason.UPSTREAM_ERROR, message: `the ${kind} message` });
    const status = toGrpcStatus(err);
    expect(status.code).toBe(code);
    expect(codeForKind(kind)).toBe(code);
    expect(status.internal).toBe(kind === 'internal');
    expect(status.details).toBe(kind === 'internal' ? INTERNAL_MESSAGE : `the ${kind} message`);
    const decoded = decodeStatusDetails(status.metadata);
    expect(decoded.status?.code).toBe(code);
    expect(decoded.status?.message).toBe(status.details);
    expect(decoded.errorInfo).toEqual({ reason: Reason.UPSTREAM_ERROR, domain: ERROR_DOMAIN, metadata: {} });
    expect(decoded.badRequest).toBeUndefined();
    expect(decoded.retryInfo).toBeUndefined();
    expect(decoded.quotaFailure).toBeUndefined();
  });

  it('adds a BadRequest with every field violation', () => {
    const err = invalidArgument([
      { field: 'messages', description: 'must not be empty' },
      { field: 'temperature', description: 'must be between 0 and 2' },
    ]);
    const status = toGrpcStatus(err);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    const decoded = decodeStatusDetails(status.metadata);
    expect(decoded.errorInfo?.reason).toBe(Reason.INVALID_REQUEST);
    expect(decoded.badRequest?.fieldViolations.map((v) => [v.field, v.description])).toEqual([
      ['messages', 'must not be empty'],
      ['temperature', 'must be between 0 and 2'],
    ]);
  });

  it('carries the error metadata in ErrorInfo', () => {
    const decoded = decodeStatusDetails(toGrpcStatus(modelNotFound('gpt-9', 'model')).metadata);
    expect(decoded.errorInfo).toEqual({
      reason: Reason.MODEL_NOT_FOUND,
      domain: ERROR_DOMAIN,
      metadata: { model: 'gpt-9', field: 'model' },
    });
  });

  it('stops a gRPC client retry policy at once when the wait is longer than a call should sit out, RetryInfo still telling when', async () => {
    // A monthly budget spent early in a 31-day month: about 30 days until it resets.
    const refusal = budgetExhausted({ keyName: 'k', what: 'budget usd_per_month 1', spentUsd: 2, retryAfterMs: 30 * 86_400_000 });
    expect(toGrpcStatus(refusal).metadata.get('grpc-retry-pushback-ms')).toEqual(['-1']);
    expect(Number(decodeStatusDetails(toGrpcStatus(refusal).metadata).retryInfo?.retryDelay?.seconds)).toBe(30 * 86_400);
    // A grpc-js client whose retry policy covers RESOURCE_EXHAUSTED would otherwise wait the pushback inside the
    // call, to end in DEADLINE_EXCEEDED (or hang without a deadline): it gets the refusal itself, after one call.
    const server = new grpc.Server();
    let calls = 0;
    server.addService(ECHO, {
      echo: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => {
        calls++;
        callback(grpcErrorFor(refusal));
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    const retrying = {
      methodConfig: [
        {
          name: [{ service: 'test.Echo' }],
          retryPolicy: {
            maxAttempts: 5,
            initialBackoff: '0.01s',
            maxBackoff: '0.01s',
            backoffMultiplier: 1,
            retryableStatusCodes: ['RESOURCE_EXHAUSTED'],
          },
        },
      ],
    };
    const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.service_config': JSON.stringify(retrying),
    });
    try {
      const code = await new Promise<number>((resolve) =>
        client.makeUnaryRequest(
          '/test.Echo/Echo',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          new grpc.Metadata(),
          { deadline: Date.now() + 1_000 },
          (err: grpc.ServiceError | null) => resolve(err?.code ?? grpc.status.OK),
        ),
      );
      expect(calls).toBe(1);
      expect(code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it('sends a negative pushback and no RetryInfo for a refusal no wait cures, so retry policies stop at once', () => {
    const pushback = (err: OrchestratorError) => toGrpcStatus(err).metadata.get('grpc-retry-pushback-ms');
    for (const hopeless of [
      rateLimited({ what: '100 tokens per minute', subject: 'key:k', estimatedTokens: 505 }),
      metadataTooLarge(20_000, 16_384),
    ]) {
      expect(pushback(hopeless)).toEqual(['-1']);
      expect(decodeStatusDetails(toGrpcStatus(hopeless).metadata).retryInfo).toBeUndefined();
    }
    expect(pushback(rateLimited({ what: '2 requests per minute', subject: 'key:k', retryAfterMs: 1_500 }))).toEqual(['1500']);
    expect(pushback(rateLimited({ what: '2 requests per minute', subject: 'key:k', retryAfterMs: 60_000 }))).toEqual(['60000']);
    expect(pushback(rateLimited({ what: '2 requests per hour', subject: 'key:k', retryAfterMs: 60_001 }))).toEqual(['-1']);
    // UNAVAILABLE without a delay leaves the wait to the client's own backoff.
    expect(pushback(draining())).toEqual([]);
  });

  it('sends a negative pushback for an upstream failure no retry mends, and none for one a wait may mend', () => {
    const pushback = (err: OrchestratorError) => toGrpcStatus(err).metadata.get('grpc-retry-pushback-ms');
    const refusedKey = upstreamAuthFailed('openai', 401, {});
    expect(pushback(refusedKey)).toEqual(['-1']);
    expect(pushback(upstreamModelMissing('openai', {}))).toEqual(['-1']);
    expect(pushback(upstreamFailed('openai', 500, undefined, {}))).toEqual([]);
    expect(pushback(circuitOpen('gpt-4o', undefined))).toEqual([]);
    const every = (...errors: OrchestratorError[]) => {
      const failed = errors.map((e) => attempt('m', 'failure', e));
      return allAttemptsFailed({ kind: 'unavailable', failed, attempts: failed });
    };
    expect(pushback(every(refusedKey, upstreamModelMissing('openai', {})))).toEqual(['-1']);
    expect(pushback(every(refusedKey, upstreamFailed('openai', 500, undefined, {})))).toEqual([]);
    expect(pushback(every(refusedKey, circuitOpen('gpt-4o', undefined)))).toEqual([]);
  });

  it('adds a RetryInfo when retryAfterMs is set, rounding to whole milliseconds', () => {
    const err = new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_RATE_LIMITED,
      message: 'rate limited upstream',
      retryAfterMs: 2500.4,
    });
    expect(decodeStatusDetails(toGrpcStatus(err).metadata).retryInfo).toEqual({
      retryDelay: { seconds: 2, nanos: 500_000_000 },
    });
    const zero = new OrchestratorError({ ...baseUnavailable(), retryAfterMs: 0 });
    expect(decodeStatusDetails(toGrpcStatus(zero).metadata).retryInfo).toEqual({
      retryDelay: { seconds: 0, nanos: 0 },
    });
  });

  it('summarises attempts in ErrorInfo metadata, in order', () => {
    const err = new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.ALL_ATTEMPTS_FAILED,
      message: 'all models failed',
      metadata: { request_id: 'r-1' },
      attempts: [
        attempt('gpt-4o', 'failure', new OrchestratorError({ ...baseUnavailable() })),
        attempt(
          'gpt-4o-mini',
          'timeout',
          new OrchestratorError({ kind: 'deadline_exceeded', reason: Reason.UPSTREAM_TIMEOUT, message: 't' }),
        ),
      ],
    });
    const info = decodeStatusDetails(toGrpcStatus(err).metadata).errorInfo;
    expect(info?.metadata).toEqual({
      request_id: 'r-1',
      attempts: 'gpt-4o:UNAVAILABLE:UPSTREAM_ERROR,gpt-4o-mini:DEADLINE_EXCEEDED:UPSTREAM_TIMEOUT',
      prompt_tokens: '0',
      completion_tokens: '0',
      cost_usd: '0',
    });
  });

  it('names attempts without an error by their outcome', () => {
    expect(summarizeAttempts([attempt('a', 'success'), attempt('b', 'skipped'), attempt('c', 'cancelled')])).toBe(
      'a:OK,b:SKIPPED,c:CANCELLED',
    );
  });

  it('adds a QuotaFailure for our own resource_exhausted limits only', () => {
    const quota = new OrchestratorError({
      kind: 'resource_exhausted',
      reason: Reason.UPSTREAM_RATE_LIMITED,
      message: 'rate limit',
      retryAfterMs: 1000,
      metadata: { quota_subject: 'api_key:abc', quota_description: '60 requests per minute' },
    });
    const decoded = decodeStatusDetails(toGrpcStatus(quota).metadata);
    expect(decoded.quotaFailure?.violations).toHaveLength(1);
    expect(decoded.quotaFailure?.violations[0]?.subject).toBe('api_key:abc');
    expect(decoded.quotaFailure?.violations[0]?.description).toBe('60 requests per minute');
    expect(decoded.retryInfo?.retryDelay).toEqual({ seconds: 1, nanos: 0 });

    const noQuota = new OrchestratorError({ kind: 'resource_exhausted', reason: Reason.UPSTREAM_RATE_LIMITED, message: 'x' });
    expect(decodeStatusDetails(toGrpcStatus(noQuota).metadata).quotaFailure).toBeUndefined();

    const otherKind = new OrchestratorError({ ...baseUnavailable(), metadata: { quota_subject: 'upstream' } });
    expect(decodeStatusDetails(toGrpcStatus(otherKind).metadata).quotaFailure).toBeUndefined();
  });

  it.each([
    ['an Error', new Error('password=hunter2 at db.internal:5432')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'hunter2')")],
    ['a string', 'hunter2'],
    ['undefined', undefined],
  ])('turns %s into a bare INTERNAL that leaks nothing', (_name, thrown) => {
    const status = toGrpcStatus(thrown);
    expect(status.code).toBe(grpc.status.INTERNAL);
    expect(status.details).toBe(INTERNAL_MESSAGE);
    expect(status.internal).toBe(true);
    const raw = status.metadata.get(STATUS_DETAILS_KEY)[0];
    expect(Buffer.isBuffer(raw)).toBe(true);
    expect(String(raw)).not.toContain('hunter2');
    expect(decodeStatusDetails(status.metadata).errorInfo).toEqual({
      reason: 'INTERNAL',
      domain: ERROR_DOMAIN,
      metadata: {},
    });
  });

  it('keeps the message of an internal-kind OrchestratorError private', () => {
    const err = new OrchestratorError({ kind: 'internal', reason: Reason.INTERNAL, message: 'cause: hunter2' });
    const status = toGrpcStatus(err);
    expect(status.details).toBe(INTERNAL_MESSAGE);
    expect(String(status.metadata.get(STATUS_DETAILS_KEY)[0])).not.toContain('hunter2');
  });
});

describe('grpcErrorFor', () => {
  it('is the status object without the internal flag', () => {
    const status = grpcErrorFor(modelNotFound('x', 'model'));
    expect(Object.keys(status).sort()).toEqual(['code', 'details', 'metadata']);
    expect(status.code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('decodeStatusDetails', () => {
  it('returns nothing for metadata without details', () => {
    expect(decodeStatusDetails(new grpc.Metadata())).toEqual({});
  });
});

describe('a route none of whose candidates has a provider', () => {
  it('is FAILED_PRECONDITION naming each candidate and its provider, not a retryable outage', () => {
    const one = routeNotServed([{ id: 'gamma-x', provider: 'gamma' }]);
    expect([one.kind, one.reason, one.retryable, one.metadata]).toEqual([
      'failed_precondition',
      Reason.MODEL_NOT_AVAILABLE,
      false,
      { model: 'gamma-x', provider: 'gamma' },
    ]);
    const two = routeNotServed([
      { id: 'gamma-x', provider: 'gamma' },
      { id: 'delta-y', provider: 'delta' },
    ]);
    expect([two.kind, two.reason, two.retryable, two.metadata]).toEqual([
      'failed_precondition',
      Reason.MODEL_NOT_AVAILABLE,
      false,
      { models: 'gamma-x,delta-y' },
    ]);
    expect(two.message).toContain('gamma-x: provider "gamma", delta-y: provider "delta"');
  });
});

function baseUnavailable(): { kind: ErrorKind; reason: Reason; message: string } {
  return { kind: 'unavailable', reason: Reason.UPSTREAM_ERROR, message: 'upstream down' };
}
