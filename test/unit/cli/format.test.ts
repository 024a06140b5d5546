import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../../src/cli/errors.js';
import { answerSummary, modelsTable, statsText } from '../../../src/cli/format.js';
import { STATUS_DETAILS_KEY } from '../../../src/cli/status-details.js';
import { BadRequest, QuotaFailure, RetryInfo } from '../../../src/gen/google/rpc/error_details.js';
import { Status } from '../../../src/gen/google/rpc/status.js';
import { Attempt, FinishReason } from '../../../src/gen/orchestrator/v1/common.js';
import { ModelInfo } from '../../../src/gen/orchestrator/v1/models.js';
import { GetStatsResponse } from '../../../src/gen/orchestrator/v1/stats.js';

/** What the CLI prints from an answer, the catalog, the counters and a failed call. */
const column = (table: string, row: number, header: string): string | undefined => {
  const lines = table.trimEnd().split('\n');
  const head = lines[0] ?? '';
  const start = head.indexOf(header);
  const next = head.slice(start + header.length).search(/\S/);
  const end = next < 0 ? undefined : start + header.length + next;
  return lines[row]?.slice(start, end).trim();
};

describe('the CLI output', () => {
  it('models: each price under its own header, and every model a row', () => {
    const models = [
      ModelInfo.fromJSON({ id: 'cheap', provider: 'p', contextWindow: 1000, inputPricePerMillion: 0.1, outputPricePerMillion: 0.4 }),
      ModelInfo.fromJSON({ id: 'dear', provider: 'p', contextWindow: 2000, inputPricePerMillion: 3, outputPricePerMillion: 15 }),
    ];
    const table = modelsTable(models);
    expect(table.trimEnd().split('\n')).toHaveLength(3);
    expect([column(table, 1, 'IN $/M'), column(table, 1, 'OUT $/M')]).toEqual(['0.10', '0.40']);
    expect([column(table, 2, 'MODEL'), column(table, 2, 'IN $/M'), column(table, 2, 'OUT $/M')]).toEqual(['dear', '3.00', '15.00']);
  });

  it('an answer: prompt and completion tokens in their places, and a retried attempt says so', () => {
    const summary = answerSummary({
      model: 'm',
      provider: 'p',
      usage: { promptTokens: 7, completionTokens: 30, totalTokens: 37, cachedTokens: 0, reasoningTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
      latencyMs: 1,
      finishReason: FinishReason.FINISH_REASON_STOP,
      attempts: [Attempt.fromJSON({ model: 'm', outcome: 'ATTEMPT_OUTCOME_SUCCESS', latencyMs: 5, retry: 2 })],
    });
    expect(summary).toContain('\nusage: 7 prompt + 30 completion = 37 tokens\n');
    expect(summary).toContain('\n  1. m SUCCESS 5.0 ms (retry 2)\n');
  });

  it("an answer: the prompt's cache reads and writes and the completion's reasoning, where the usage names them", () => {
    const summary = answerSummary({
      model: 'm',
      provider: 'p',
      usage: { promptTokens: 300, completionTokens: 210, totalTokens: 510, cachedTokens: 100, reasoningTokens: 192, cacheWriteTokens: 50 },
      costUsd: 0,
      latencyMs: 1,
      finishReason: FinishReason.FINISH_REASON_STOP,
      attempts: [],
    });
    expect(summary).toContain('\nusage: 300 prompt + 210 completion = 510 tokens (100 cached, 50 written to cache, 192 reasoning)\n');
  });

  it('stats: successes and failures each in their place', () => {
    const text = statsText(GetStatsResponse.fromJSON({ totalRequests: 10, successfulRequests: 9, failedRequests: 1, errorRate: 0.1 }));
    expect(text).toContain('\nrequests: 10 total, 9 ok, 1 failed (error rate 10.0%)\n');
  });

  it('a failed call: field violations, the retry delay with its fraction, and quota violations', () => {
    const any = (type: string, value: Uint8Array) => ({ typeUrl: `type.googleapis.com/google.rpc.${type}`, value: Buffer.from(value) });
    const status = Status.encode({
      code: grpc.status.RESOURCE_EXHAUSTED,
      message: 'slow down',
      details: [
        any(
          'BadRequest',
          BadRequest.encode(BadRequest.fromJSON({ fieldViolations: [{ field: 'max_tokens', description: 'too many' }] })).finish(),
        ),
        any('RetryInfo', RetryInfo.encode(RetryInfo.fromJSON({ retryDelay: { seconds: 1, nanos: 500_000_000 } })).finish()),
        any(
          'QuotaFailure',
          QuotaFailure.encode(
            QuotaFailure.fromJSON({ violations: [{ subject: 'key:alice', description: '2 requests per minute' }] }),
          ).finish(),
        ),
      ],
    }).finish();
    const metadata = new grpc.Metadata();
    metadata.set(STATUS_DETAILS_KEY, Buffer.from(status));
    const err = Object.assign(new Error('slow down'), { code: grpc.status.RESOURCE_EXHAUSTED, details: 'slow down', metadata });
    expect(describeError(err).split('\n')).toEqual([
      'error: RESOURCE_EXHAUSTED (code 8): slow down',
      'field max_tokens: too many',
      'retry after: 1.500 s',
      'quota: key:alice 2 requests per minute',
      '',
    ]);
  });
});
