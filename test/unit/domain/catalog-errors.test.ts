import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { decodeStatusDetails } from '../../../src/cli/status-details.js';
import {
  catalogSyncLockUnavailable,
  catalogSyncRunning,
  noCatalogSource,
  runtimeModelInUse,
  runtimeModelNotFound,
} from '../../../src/domain/catalog-errors.js';
import { toGrpcStatus } from '../../../src/server/errors.js';
import { databaseOff, databaseUnreachable } from '../../../src/domain/service-errors.js';

/** What a client sees: the code, the message, ErrorInfo's reason and metadata, RetryInfo's delay. */
function seen(err: Error) {
  const status = toGrpcStatus(err);
  const decoded = decodeStatusDetails(status.metadata);
  const delay = decoded.retryInfo?.retryDelay;
  return {
    code: status.code,
    message: status.details,
    reason: decoded.errorInfo?.reason,
    metadata: decoded.errorInfo?.metadata,
    retryMs: delay ? delay.seconds * 1000 + delay.nanos / 1e6 : undefined,
    violations: decoded.badRequest?.fieldViolations,
  };
}

describe('catalog errors', () => {
  it('SyncCatalog while another replica syncs: UNAVAILABLE, CATALOG_SYNC_RUNNING, a retry delay and what already ran', () => {
    expect(seen(catalogSyncRunning('arena', ['openrouter']))).toMatchObject({
      code: grpc.status.UNAVAILABLE,
      reason: 'CATALOG_SYNC_RUNNING',
      metadata: { source: 'arena', done: 'openrouter' },
      retryMs: 5_000,
    });
    expect(seen(catalogSyncRunning('openrouter', [])).metadata).toEqual({ source: 'openrouter' });
    expect(seen(catalogSyncLockUnavailable('openrouter', new Error('ECONNREFUSED')))).toMatchObject({
      code: grpc.status.UNAVAILABLE,
      reason: 'LEDGER_UNAVAILABLE',
      retryMs: 5_000,
    });
  });

  it('runtime models and the database keep their codes, reasons and messages', () => {
    expect(seen(runtimeModelInUse('house', ['a', 'b']))).toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      reason: 'INVALID_REQUEST',
      message: '"house" is a fallback of "a", "b": update those first',
      violations: [{ field: 'id', description: 'still a fallback of a, b' }],
    });
    expect(seen(runtimeModelNotFound('house', 'id'))).toMatchObject({
      code: grpc.status.NOT_FOUND,
      reason: 'MODEL_NOT_FOUND',
      message: 'no runtime model "house"',
      metadata: { model: 'house', field: 'id' },
    });
    expect(seen(noCatalogSource())).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, reason: 'INVALID_REQUEST' });
    expect(seen(databaseOff('runtime models and catalog history'))).toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      reason: 'LEDGER_UNAVAILABLE',
      message: expect.stringMatching(/^runtime models and catalog history are kept in the database, and it is off \(DATABASE_URL=off\)/),
    });
    expect(seen(databaseUnreachable())).toMatchObject({ code: grpc.status.UNAVAILABLE, reason: 'LEDGER_UNAVAILABLE' });
  });
});
