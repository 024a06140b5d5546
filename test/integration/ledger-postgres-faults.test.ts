import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, isDatabaseAway, migrate, type LedgerDatabase } from '../../src/store/database.js';
import { LedgerStore } from '../../src/store/ledger-store.js';
import { usageTotals } from '../../src/store/queries.js';
import { callRecord } from '../helpers/call-record.js';
import { faultyProxy } from '../helpers/faulty-proxy.js';
import { exitCodeOf, type MainProcess, startMain } from '../helpers/main-process.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';

let pg: PostgresProcess;
let direct: LedgerDatabase;
beforeAll(async () => {
  pg = await startPostgres();
  direct = connect({ kind: 'postgres', url: pg.url });
  await migrate(direct);
}, 90_000);
afterAll(async () => {
  await direct?.close();
  await pg?.destroy();
});

async function ids(prefix: string): Promise<string[]> {
  const rows = await direct.db.selectFrom('ledger_calls').select('id').where('id', 'like', `${prefix}%`).orderBy('id').execute();
  return rows.map((r) => r.id);
}

function storeThrough(port: number): LedgerStore {
  return new LedgerStore({
    target: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/postgres` },
    log: pino({ level: 'silent' }),
    maxQueue: 1_000,
    flushMs: 20,
    batchSize: 10,
    retryMs: 50,
  });
}

describe('the PostgreSQL ledger when the connection breaks', () => {
  it('a connection cut during a batch does not stop the process: the batch is written again once it reconnects', async () => {
    const proxy = await faultyProxy(pg.port);
    const store = storeThrough(proxy.port);
    await store.start();
    try {
      proxy.cutOn('copy "ledger_calls"');
      store.recordCall(callRecord('cut-1'));
      store.recordCall(callRecord('cut-2'));
      await expect.poll(() => store.written, { timeout: 10_000 }).toBe(2);
      expect(await ids('cut-')).toEqual(['cut-1', 'cut-2']);
    } finally {
      await store.close(1_000);
      proxy.close();
    }
  }, 30_000);

  it('a query cut mid-way fails as a query, and the process serves on', async () => {
    const proxy = await faultyProxy(pg.port);
    const store = storeThrough(proxy.port);
    await store.start();
    try {
      proxy.cutOn('from "ledger_calls"');
      // ...as a database away (UsageService: UNAVAILABLE, LEDGER_UNAVAILABLE), not as a query it refused.
      await expect(usageTotals(store.db!.db, {}, [])).rejects.toSatisfy(isDatabaseAway);
      // The pool makes a new connection for the next query.
      await expect(usageTotals(store.db!.db, {}, [])).resolves.toBeDefined();
    } finally {
      await store.close(1_000);
      proxy.close();
    }
  }, 30_000);

  it('a database that stops answering fails a read as away after the query timeout, and the batch waits in the queue', async () => {
    const proxy = await faultyProxy(pg.port);
    const store = new LedgerStore({
      target: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${proxy.port}/postgres` },
      log: pino({ level: 'silent' }),
      maxQueue: 1_000,
      flushMs: 20,
      batchSize: 10,
      retryMs: 50,
      queryTimeoutMs: 500,
    });
    await store.start();
    try {
      proxy.freeze();
      await expect(usageTotals(store.db!.reads, {}, [])).rejects.toSatisfy(isDatabaseAway);
      store.recordCall(callRecord('frozen-batch'));
      const started = Date.now();
      await store.flush(Date.now() + 2_000);
      expect(Date.now() - started).toBeLessThan(4_000);
      expect([store.queued, store.written, store.dropped]).toEqual([1, 0, 0]);
    } finally {
      await store.close(200);
      proxy.close();
    }
  }, 30_000);

  it('a batch committed whose answer was lost is not written twice, and the calls after it are written', async () => {
    const proxy = await faultyProxy(pg.port);
    const store = storeThrough(proxy.port);
    await store.start();
    try {
      proxy.cutOn('commit', true);
      store.recordCall(callRecord('lost-0'));
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 1; i <= 5; i += 1) store.recordCall(callRecord(`lost-${i}`));
      await expect.poll(() => store.queued, { timeout: 10_000 }).toBe(0);
      expect(await ids('lost-')).toEqual(['lost-0', 'lost-1', 'lost-2', 'lost-3', 'lost-4', 'lost-5']);
      expect(store.written).toBe(6);
      expect(store.dropped).toBe(0);
    } finally {
      await store.close(1_000);
      proxy.close();
    }
  }, 30_000);
});

describe('the PostgreSQL ledger closed while it reconnects', () => {
  /** A store through `proxy` whose connections carry `name`; its first connection is cut, so it starts reconnecting. */
  async function reconnecting(proxy: { port: number; cutOn: (text: string) => void }, name: string): Promise<LedgerStore> {
    const store = new LedgerStore({
      target: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${proxy.port}/postgres?application_name=${name}` },
      log: pino({ level: 'silent' }),
      maxQueue: 1_000,
      flushMs: 20,
      batchSize: 10,
      retryMs: 50,
    });
    proxy.cutOn(name);
    await store.start();
    expect(store.db).toBeUndefined();
    return store;
  }

  const connections = async (name: string): Promise<number> => {
    const { rows } = await direct.pgPool!.query<{ n: string }>('select count(*) as n from pg_stat_activity where application_name = $1', [
      name,
    ]);
    return Number(rows[0]?.n);
  };

  it('a reconnect still waiting for its turn, with nothing queued, never connects', async () => {
    const proxy = await faultyProxy(pg.port);
    try {
      const store = await reconnecting(proxy, 'closed-before-reconnect');
      await store.close(1_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(store.db).toBeUndefined();
      // The server lists a closed connection's backend until that process has exited.
      await expect.poll(() => connections('closed-before-reconnect'), { timeout: 10_000 }).toBe(0);
    } finally {
      proxy.close();
    }
  }, 30_000);

  it('a reconnect under way closes what it opened once it finishes', async () => {
    const proxy = await faultyProxy(pg.port);
    // kysely's migration lock (its fixed advisory lock id), held here, keeps the reconnect inside
    // its migration run until the store is closed.
    const holder = await direct.pgPool!.connect();
    try {
      await holder.query('select pg_advisory_lock(3853314791062309107)');
      const store = await reconnecting(proxy, 'closed-during-reconnect');
      const waiting = async () =>
        Number(
          (await holder.query<{ n: string }>("select count(*) as n from pg_locks where locktype = 'advisory' and not granted")).rows[0]?.n,
        );
      await expect.poll(waiting, { timeout: 10_000 }).toBe(1);
      await store.close(100);
      await holder.query('select pg_advisory_unlock(3853314791062309107)');
      await expect.poll(() => connections('closed-during-reconnect'), { timeout: 10_000 }).toBe(0);
      expect(store.db).toBeUndefined();
    } finally {
      holder.release();
      proxy.close();
    }
  }, 30_000);

  it('a reconnect under way that comes up within the grace period writes the queue: nothing counted as dropped', async () => {
    const proxy = await faultyProxy(pg.port);
    const holder = await direct.pgPool!.connect();
    try {
      await holder.query('select pg_advisory_lock(3853314791062309107)');
      const store = await reconnecting(proxy, 'reconnected-at-shutdown');
      store.recordCall(callRecord('shutdown-1'));
      store.recordCall(callRecord('shutdown-2'));
      const waiting = async () =>
        Number(
          (await holder.query<{ n: string }>("select count(*) as n from pg_locks where locktype = 'advisory' and not granted")).rows[0]?.n,
        );
      await expect.poll(waiting, { timeout: 10_000 }).toBe(1);
      const closed = store.close(5_000);
      await new Promise((r) => setTimeout(r, 300));
      await holder.query('select pg_advisory_unlock(3853314791062309107)');
      await closed;
      expect([store.written, store.dropped, store.queued]).toEqual([2, 0, 0]);
      expect(await ids('shutdown-')).toEqual(['shutdown-1', 'shutdown-2']);
      // The server lists a closed connection's backend until that process has exited.
      await expect.poll(() => connections('reconnected-at-shutdown'), { timeout: 10_000 }).toBe(0);
    } finally {
      holder.release();
      proxy.close();
    }
  }, 30_000);
});

/** A store whose next reconnect is 10 s away once its first connection is cut: well past the grace periods below. */
function backingOffStore(port: number, name: string): LedgerStore {
  return new LedgerStore({
    target: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/postgres?application_name=${name}` },
    log: pino({ level: 'silent' }),
    maxQueue: 1_000,
    flushMs: 20,
    batchSize: 10,
    retryMs: 10_000,
  });
}

describe('the PostgreSQL ledger closed while a reconnect waits out its backoff', () => {
  it('tries once more within the grace period: a database back by then gets the queue, nothing counted as dropped', async () => {
    const proxy = await faultyProxy(pg.port);
    try {
      const name = 'reconnect-backoff-at-shutdown';
      const store = backingOffStore(proxy.port, name);
      proxy.cutOn(name);
      await store.start();
      expect(store.db).toBeUndefined();
      store.recordCall(callRecord('backoff-1'));
      store.recordCall(callRecord('backoff-2'));
      const started = Date.now();
      await store.close(3_000);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect([store.written, store.dropped, store.queued]).toEqual([2, 0, 0]);
      expect(await ids('backoff-')).toEqual(['backoff-1', 'backoff-2']);
      expect(store.db).toBeUndefined();
    } finally {
      proxy.close();
    }
  }, 30_000);

  it('a database that does not answer by then: the records are counted as dropped, close() bounded by the grace period', async () => {
    const proxy = await faultyProxy(pg.port);
    try {
      const name = 'reconnect-backoff-frozen';
      const store = backingOffStore(proxy.port, name);
      proxy.cutOn(name);
      await store.start();
      store.recordCall(callRecord('frozen-backoff-1'));
      proxy.freeze();
      const started = Date.now();
      await store.close(500);
      // The grace period, and at most a second for closing what the attempt opened.
      expect(Date.now() - started).toBeLessThan(1_700);
      expect([store.written, store.dropped, store.queued]).toEqual([0, 1, 0]);
    } finally {
      proxy.close();
    }
  }, 30_000);
});

describe('the PostgreSQL ledger at shutdown when the database stopped answering', () => {
  it('the process still exits 0 before its exit watchdog, saying how many records were not written', async () => {
    const proxy = await faultyProxy(pg.port);
    let main: MainProcess | undefined;
    try {
      main = await startMain(
        {
          SIMULATOR_LATENCY_SCALE: '0',
          LOG_LEVEL: 'info',
          SHUTDOWN_GRACE_MS: '1000',
          DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/postgres`,
        },
        { timeoutMs: 30_000 },
      );
      const { child, lines, stderr } = main;
      expect(lines.find((l) => l.msg === 'llm-orchestrator listening')).toBeDefined();
      const httpPort = Number(main.listening.httpPort);
      const chat = (requestId: string) =>
        fetch(`http://127.0.0.1:${httpPort}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': requestId },
          body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
        });
      expect((await chat('frozen-1')).status).toBe(200);
      await expect
        .poll(async () => (await direct.db.selectFrom('ledger_calls').select('id').where('request_id', '=', 'frozen-1').execute()).length, {
          timeout: 10_000,
        })
        .toBe(1);
      proxy.freeze();
      // Its record is taken for writing over the connection that no longer answers.
      expect((await chat('frozen-2')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
      const signalled = Date.now();
      child.kill('SIGTERM');
      const code = await exitCodeOf(main);
      expect({ code, stderr: stderr.join('') }).toEqual({ code: 0, stderr: '' });
      // Within the drain delay (0) + the grace period + the server's 2 s force-close, before the 5 s watchdog.
      expect(Date.now() - signalled).toBeLessThan(5_000);
      expect(lines.find((l) => l.msg === 'ledger: records not written before shutdown')).toMatchObject({ records: 1 });
    } finally {
      if (main?.child.exitCode === null) main.child.kill('SIGKILL');
      proxy.close();
    }
  }, 60_000);
});
