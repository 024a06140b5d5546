import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCatalogSync } from '../../src/catalog/start-sync.js';
import { SyncLockUnavailable, SyncScheduler } from '../../src/catalog/sync/scheduler.js';
import type { SyncReport, SyncRunner } from '../../src/catalog/sync/types.js';
import { CatalogSource } from '../../src/gen/orchestrator/v1/models.js';
import { postgresSyncLock } from '../../src/store/sync-lock.js';
import { sha } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { faultyProxy } from '../helpers/faulty-proxy.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { type PostgresProcess, startPostgres } from '../helpers/postgres.js';
import { ScriptedRunner } from '../helpers/scripted-sync-runner.js';
import { fixture, startSourceServer, type SourceServer } from '../helpers/source-server.js';

let postgres: PostgresProcess;
const pools: pg.Pool[] = [];
beforeAll(async () => {
  postgres = await startPostgres();
}, 90_000);
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await postgres?.destroy();
});

async function postgresRuns(): Promise<{ ok: number; error: string | null }[]> {
  const pool = replicaPool();
  return (await pool.query<{ ok: number; error: string | null }>('select ok, error from catalog_sync_runs order by finished_at')).rows;
}

/** One replica's own pool, as each process would have. */
function replicaPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  pools.push(pool);
  return pool;
}

describe('catalog sync lock on PostgreSQL', () => {
  it('lets one replica hold a source at a time, per source, and frees it on release', async () => {
    const a = postgresSyncLock(replicaPool());
    const b = postgresSyncLock(replicaPool());
    const releaseA = await a.acquire('openrouter');
    expect(releaseA).toBeTypeOf('function');
    expect(await b.acquire('openrouter')).toBeNull();
    // Another source is another lock.
    const releaseArena = await b.acquire('arena');
    expect(releaseArena).toBeTypeOf('function');
    await releaseA?.();
    const releaseB = await b.acquire('openrouter');
    expect(releaseB).toBeTypeOf('function');
    await releaseB?.();
    await releaseArena?.();
  });

  it('frees the lock when the holding replica goes away', async () => {
    const dying = replicaPool();
    const held = await postgresSyncLock(dying).acquire('huggingface');
    expect(held).toBeTypeOf('function');
    const otherPool = replicaPool();
    const other = postgresSyncLock(otherPool);
    expect(await other.acquire('huggingface')).toBeNull();
    // The holder's connection is cut (its process died, or the network did).
    await otherPool.query(
      `select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and classid = $1 and pid <> pg_backend_pid()`,
      [0x4c4c4d43],
    );
    // pg_terminate_backend only signals: the lock goes when that backend has exited.
    const locksLeft = async () =>
      Number(
        (await otherPool.query(`select count(*) as n from pg_locks where locktype = 'advisory' and classid = $1`, [0x4c4c4d43])).rows[0]?.n,
      );
    for (const end = Date.now() + 10_000; (await locksLeft()) > 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    const later = await other.acquire('huggingface');
    expect(later).toBeTypeOf('function');
    await later?.();
    // The holder's own release after the loss neither throws nor crashes.
    await expect(held?.()).resolves.toBeUndefined();
  });

  /**
   * A pooled client that loses its connection emits 'error' on itself, which neither pg-pool nor
   * the query listens to: unheard, that error ends the process.
   */
  it('a connection cut while taking or letting go of the lock fails that step, and the process goes on', async () => {
    const proxy = await faultyProxy(postgres.port);
    try {
      const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/postgres`, max: 2 });
      pools.push(pool);
      const lock = postgresSyncLock(pool);
      proxy.cutOn('pg_try_advisory_lock');
      await expect(lock.acquire('openrouter')).rejects.toThrow(/Connection terminated/);
      const release = await lock.acquire('openrouter');
      expect(release).toBeTypeOf('function');
      proxy.cutOn('pg_advisory_unlock');
      await expect(release?.()).resolves.toBeUndefined();
      // The connection that could not unlock is gone, and the lock with it.
      const again = await postgresSyncLock(replicaPool()).acquire('openrouter');
      for (const end = Date.now() + 10_000; again === null && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
      expect(again).toBeTypeOf('function');
      await again?.();
    } finally {
      proxy.close();
    }
  });

  it('a database that stopped answering refuses a run on demand within seconds, as one that is down does', async () => {
    const proxy = await faultyProxy(postgres.port);
    const wiring = await startCatalogSync({
      config: undefined,
      runner: new ScriptedRunner(),
      catalog: () => {
        throw new Error('not read by this runner');
      },
      apply: () => Promise.resolve(),
      database: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${proxy.port}/postgres` },
      log: pino({ level: 'silent' }),
    });
    const runNow = () =>
      Promise.race([
        wiring?.scheduler.runNow('openrouter').then(
          () => 'ran',
          (err: unknown) => err,
        ),
        new Promise((r) => setTimeout(() => r('still waiting'), 15_000)),
      ]);
    try {
      // A run leaves its connection idle in the pool: the next run asks for the lock on it.
      expect(await runNow()).toBe('ran');
      proxy.freeze();
      let started = Date.now();
      expect(await runNow()).toBeInstanceOf(SyncLockUnavailable);
      expect(Date.now() - started).toBeLessThan(10_000);
      // That connection is dropped: the next run connects anew.
      started = Date.now();
      expect(await runNow()).toBeInstanceOf(SyncLockUnavailable);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await wiring?.stop();
      proxy.close();
    }
  }, 60_000);

  it('with two schedulers on two pools, a run on demand happens on one of them only', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const runs: string[] = [];
    const runner = (name: string): SyncRunner => ({
      async run(source) {
        runs.push(name);
        await gate;
        const at = new Date();
        return { source, startedAt: at, finishedAt: at, ok: true, models: [], matched: [], unmatched: [] } satisfies SyncReport;
      },
    });
    const one = new SyncScheduler({ runner: runner('one'), schedules: {}, onReport: () => {}, lock: postgresSyncLock(replicaPool()) });
    const two = new SyncScheduler({ runner: runner('two'), schedules: {}, onReport: () => {}, lock: postgresSyncLock(replicaPool()) });
    const first = one.runNow('openrouter');
    await new Promise((r) => setImmediate(r));
    while (runs.length === 0) await new Promise((r) => setTimeout(r, 5));
    await expect(two.runNow('openrouter')).resolves.toBeUndefined();
    release();
    await expect(first).resolves.toMatchObject({ ok: true });
    expect(runs).toEqual(['one']);
    expect(two.stats().openrouter?.skippedLocked).toBe(1);
  });
});

describe('SyncCatalog on two replicas sharing PostgreSQL', () => {
  const admin = { metadata: { authorization: 'Bearer root-secret' } };
  const PATH = '/api/v1/models';
  let source: SourceServer;
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    source = await startSourceServer();
    const file = writeConfigFile(`access:
  api_keys:
    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }
catalog:
  sync:
    openrouter: { url: "${source.url}${PATH}" }
`);
    const env = { CONFIG_FILE: file, DATABASE_URL: postgres.url };
    a = await startHarness({ env });
    b = await startHarness({ env });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await source?.close();
  });

  const request = { source: CatalogSource.CATALOG_SOURCE_OPENROUTER };

  it("a second replica's SyncCatalog during the first's run is refused with CATALOG_SYNC_RUNNING; the runs never overlap", async () => {
    let release!: () => void;
    source.set(PATH, { body: fixture('openrouter-models.json'), hold: new Promise<void>((r) => (release = r)) });
    const first = callUnary(a.clients.models.syncCatalog.bind(a.clients.models), request, admin);
    while (!source.requests.some((r) => r.path === PATH)) await new Promise((r) => setTimeout(r, 10));

    const refused = await unaryError(b.clients.models.syncCatalog.bind(b.clients.models), request, admin);
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
    expect(refused.details).toMatch(/another replica is syncing openrouter/);
    expect(refused.decoded.errorInfo).toMatchObject({ reason: 'CATALOG_SYNC_RUNNING', metadata: { source: 'openrouter' } });
    expect(refused.decoded.retryInfo?.retryDelay).toMatchObject({ seconds: 5 });
    expect(source.requests.filter((r) => r.path === PATH)).toHaveLength(1);

    release();
    expect((await first).response.reports[0]).toMatchObject({ ok: true });
    // Once the lock is free the second replica runs it; one run after the other.
    const second = await callUnary(b.clients.models.syncCatalog.bind(b.clients.models), request, admin);
    expect(second.response.reports[0]).toMatchObject({ ok: true });
    const runs = source.requests.filter((r) => r.path === PATH);
    expect(runs).toHaveLength(2);
    expect(runs[1]?.startedAt).toBeGreaterThanOrEqual(runs[0]?.endedAt ?? Number.POSITIVE_INFINITY);
  });

  it('a list naming a model longer than 256 characters is a failed run naming it, recorded like any other', async () => {
    const long = `acme/${'x'.repeat(300)}`;
    source.set(PATH, {
      body: JSON.stringify({ data: [{ id: long, context_length: 8192, pricing: { prompt: '0.000001', completion: '0.000002' } }] }),
    });
    const res = await callUnary(a.clients.models.syncCatalog.bind(a.clients.models), request, admin).catch((e: grpc.ServiceError) => e);
    expect((res as grpc.ServiceError).details).toBeUndefined();
    const [report] = 'response' in res ? res.response.reports : [];
    expect(report).toMatchObject({ ok: false, error: expect.stringMatching(/unexpected shape at \$\.data\[0\]\.id/) });
    // Recorded: another replica's next scheduled tick sees that this one ran.
    const runs = await postgresRuns();
    expect(runs.at(-1)).toMatchObject({ ok: 0 });
  });

  it('a binary answer (a compressed file served as is) is a failed run saying it is not JSON, recorded like any other', async () => {
    source.set(PATH, { body: '\u001f\u008b\u0008\u0000\u0000\u0000\u0000\u0000\u0000\u0003binary' });
    const res = await callUnary(a.clients.models.syncCatalog.bind(a.clients.models), request, admin).catch((e: grpc.ServiceError) => e);
    expect((res as grpc.ServiceError).details).toBeUndefined();
    const [report] = 'response' in res ? res.response.reports : [];
    expect(report).toMatchObject({ ok: false, error: expect.stringMatching(/OpenRouter models: not valid JSON/) });
    expect((await postgresRuns()).at(-1)?.error).toMatch(/not valid JSON/);
  });

  it('a list naming a model with a control character in it is a failed run naming it', async () => {
    source.set(PATH, {
      body: JSON.stringify({
        data: [{ id: 'acme/bad\u0000name', context_length: 8192, pricing: { prompt: '0.000001', completion: '0.000002' } }],
      }),
    });
    const res = await callUnary(a.clients.models.syncCatalog.bind(a.clients.models), request, admin).catch((e: grpc.ServiceError) => e);
    expect((res as grpc.ServiceError).details).toBeUndefined();
    const [report] = 'response' in res ? res.response.reports : [];
    expect(report).toMatchObject({ ok: false, error: expect.stringMatching(/unexpected shape at \$\.data\[0\]\.id/) });
  });
});
