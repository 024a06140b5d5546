import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { eventually } from '../helpers/eventually.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

describe('the SQLite ledger directory deleted while the gateway serves', () => {
  let h: Harness;
  let usage: UsageServiceClient;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-gone-')), 'data');
    file = join(dir, 'orchestrator.db');
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${file}`, LEDGER_FLUSH_MS: '20' } });
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    usage?.close();
    await h?.close();
  });

  it('GetUsage and the file after a restart hold the calls made since, and only those', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    // While the file is opened again the ledger answers UNAVAILABLE, as for any database away: read as -1.
    const requests = (): Promise<number> =>
      callUnary(usage.getUsage.bind(usage), { groupBy: [], pageSize: 0, pageToken: '' }).then(
        ({ response }) => Number(response.rows[0]?.requests ?? 0),
        (err: { code?: number }) => {
          if (err.code !== grpc.status.UNAVAILABLE) throw err;
          return -1;
        },
      );
    for (const prompt of ['one', 'two']) await callUnary(chat, { model: 'gpt-4o-mini', prompt, messages: [] });
    expect(await eventually(requests, (n) => n === 2)).toBe(2);

    rmSync(dir, { recursive: true, force: true });
    await callUnary(chat, { model: 'gpt-4o-mini', prompt: 'three', messages: [] });
    expect(await eventually(requests, (n) => n === 1, 10_000)).toBe(1);
    expect(h.app.ledger.store?.written).toBe(3);

    await h.close();
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      expect(db.prepare('select count(*) as n from ledger_calls').get()).toEqual({ n: 1 });
    } finally {
      db.close();
    }
  });
});

describe('UsageService on a SQLite ledger file deleted before its reader thread started', () => {
  let h: Harness;
  let usage: UsageServiceClient;
  let file: string;
  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'llmo-reader-gone-')), 'orchestrator.db');
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${file}`, LEDGER_FLUSH_MS: '20' } });
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    usage?.close();
    await h?.close();
  });

  it('GetUsage and ListCalls answer UNAVAILABLE (LEDGER_UNAVAILABLE) until the path is opened again, then read the new file', async () => {
    // The second before the gateway looks at the path again, held open: only the next write finds the file gone.
    (h.app.ledger.store as unknown as { unwatch?: () => void }).unwatch?.();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    for (const err of [
      await unaryError(usage.getUsage.bind(usage), { groupBy: [], pageSize: 0, pageToken: '' }),
      await unaryError(usage.listCalls.bind(usage), { pageSize: 10, requestId: '', pageToken: '' }),
    ]) {
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.decoded.errorInfo?.reason).toBe('LEDGER_UNAVAILABLE');
    }
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'after', messages: [] });
    const requests = await eventually(
      () =>
        callUnary(usage.getUsage.bind(usage), { groupBy: [], pageSize: 0, pageToken: '' }).then(
          ({ response }) => Number(response.rows[0]?.requests ?? 0),
          () => -1,
        ),
      (n) => n === 1,
      10_000,
    );
    expect(requests).toBe(1);
  });
});

describe('the SQLite ledger file deleted on a service closed by runtime API keys alone', () => {
  let h: Harness;
  let keys: ApiKeyServiceClient;
  let dir: string;
  beforeAll(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-gone-keys-')), 'data');
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${join(dir, 'orchestrator.db')}`, KEYS_REFRESH_MS: '100' } });
    keys = new ApiKeyServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    keys?.close();
    await h?.close();
  });

  it('stays closed: the new file holds no key, and that must not let every caller in', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const anonymous = (): Promise<number> =>
      callUnary(chat, { model: 'gpt-4o-mini', prompt: 'hi', messages: [] }).then(
        () => grpc.status.OK,
        (err: grpc.ServiceError) => err.code,
      );
    const { key } = (await callUnary(keys.createApiKey.bind(keys), { name: 'ops', scopes: { scopes: ['admin'] } })).response;
    expect(await anonymous()).toBe(grpc.status.UNAUTHENTICATED);

    rmSync(dir, { recursive: true, force: true });
    // The file is opened again (within a second) and the keys read from it (every 100 ms): none.
    await eventually(
      () =>
        callUnary(keys.listApiKeys.bind(keys), { includeRevoked: true }, { metadata: { authorization: `Bearer ${key}` } }).then(
          () => 'listed',
          (err: grpc.ServiceError) => String(err.code),
        ),
      (outcome) => outcome === String(grpc.status.UNAUTHENTICATED),
      10_000,
    );
    expect(await anonymous()).toBe(grpc.status.UNAUTHENTICATED);
  });
});
