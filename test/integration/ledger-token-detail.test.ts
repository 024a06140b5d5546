import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { connect } from '../../src/store/database.js';
import type { Harness } from '../helpers/harness.js';
import { checkTokenDetail, checkTokenDetailUpgrade, startDetailGateway, startDetailUpstream } from '../helpers/ledger-token-detail.js';
import type { RecordingUpstream } from '../helpers/recording-upstream.js';

/**
 * The ledger keeps what an answer's usage says beyond prompt and completion tokens: how much of
 * the prompt the provider's cache served or took, and how much of the completion was thinking.
 * PostgreSQL runs the same checks (ledger-postgres.test.ts).
 */
describe('cached, cache-write and reasoning tokens in a SQLite ledger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-token-detail-'));
  let upstream: RecordingUpstream;
  let h: Harness;
  let usage: UsageServiceClient;
  beforeAll(async () => {
    upstream = await startDetailUpstream();
    h = await startDetailGateway(upstream, `sqlite:${join(dir, 'ledger.db')}`);
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    usage?.close();
    await h?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are recorded for each call and attempt, shown by ListCalls and summed by GetUsage', async () => {
    await checkTokenDetail(h, usage);
  });

  it('an older ledger upgrades: its calls and attempts are kept, with 0 for the counts it did not record', async () => {
    const database = connect({ kind: 'sqlite', file: join(dir, 'old.db') });
    try {
      await checkTokenDetailUpgrade(database);
    } finally {
      await database.close();
    }
  });
});
