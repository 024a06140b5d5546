import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { CatalogSource } from '../../src/gen/orchestrator/v1/models.js';
import { sha } from '../helpers/access-file.js';
import { eventually } from '../helpers/eventually.js';
import { callUnary, clientsFor, unaryError } from '../helpers/grpc-client.js';
import { exitCodeOf, MAIN, startMain, TSX } from '../helpers/main-process.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';
import { insertApiKey } from '../../src/store/api-keys.js';
import { connect as connectLedger } from '../../src/store/database.js';

interface Cluster {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  readonly metricsUrl: string;
  /** Parsed JSON log lines of the primary and both workers (they share stdout). */
  readonly lines: Record<string, unknown>[];
  readonly stderr: string[];
}

/** src/main.ts with WORKERS=2, until the primary says every worker is serving. */
async function startCluster(env: Record<string, string> = {}): Promise<Cluster> {
  const main = await startMain(
    { WORKERS: '2', DATABASE_URL: 'off', SIMULATOR_LATENCY_SCALE: '0', LOG_LEVEL: 'info', ...env },
    { ready: 'llm-orchestrator listening (cluster)' },
  );
  return { ...main, metricsUrl: main.listening['metrics'] as string };
}

/** The worker processes of a cluster's primary, by pid. */
function workersOf(cluster: Cluster): number[] {
  const pid = cluster.child.pid;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The workers still running after waiting up to `tries` × 50 ms for all of them to exit. */
async function stillRunning(workers: readonly number[], tries: number): Promise<number[]> {
  for (let i = 0; i < tries && workers.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  return workers.filter(alive);
}

/** The workers that logged `msg`, in order. */
/** Whether a worker started to replace a dead one came to serve, waiting until it does or the service stops. */
async function replacementServes(cluster: Cluster): Promise<boolean> {
  const serving = (): boolean => cluster.lines.some((l) => l['msg'] === 'replacement worker serving');
  await eventually(
    async () => serving(),
    (yes) => yes || cluster.child.exitCode !== null,
    50_000,
  );
  return serving();
}

function workersLogging(lines: readonly Record<string, unknown>[], msg: string): unknown[] {
  return lines
    .filter((l) => l['msg'] === msg)
    .map((l) => l['worker'])
    .sort();
}

describe('WORKERS=2: two processes serve one port', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);
  afterAll(() => {
    if (cluster.child.exitCode === null) cluster.child.kill('SIGKILL');
  });

  it('spreads connections over both workers, and GetStats and /metrics count every call whichever worker answers', async () => {
    const calls = 8;
    for (let i = 0; i < calls; i++) {
      // A connection of its own per call: the primary hands connections, not calls, to workers.
      const clients = clientsFor(cluster.port);
      try {
        const { response } = await callUnary(clients.chat.chat.bind(clients.chat), {
          model: 'gpt-4o-mini',
          prompt: `call ${i}`,
          messages: [],
          maxTokens: 3,
        });
        expect(response.model).toBe('gpt-4o-mini');
      } finally {
        clients.close();
      }
    }
    const served = new Set(
      cluster.lines.filter((l) => l['msg'] === 'call' && l['method'] === '/orchestrator.v1.ChatService/Chat').map((l) => l['worker']),
    );
    expect([...served].sort()).toEqual([1, 2]);

    // Asked twice on two connections (so, most likely, of both workers): the same totals.
    for (let i = 0; i < 2; i++) {
      const clients = clientsFor(cluster.port);
      try {
        const { response } = await callUnary(clients.stats.getStats.bind(clients.stats), {});
        expect(response.totalRequests).toBe(calls);
        expect(response.models.find((m) => m.name === 'gpt-4o-mini')?.requests).toBe(calls);
        expect(response.methods.find((m) => m.method === 'Chat')?.latency?.count).toBe(calls);
      } finally {
        clients.close();
      }
    }

    const text = await (await fetch(cluster.metricsUrl)).text();
    const handled =
      /^grpc_server_handled_total\{grpc_service="orchestrator\.v1\.ChatService",grpc_method="Chat",grpc_type="unary",grpc_code="OK",protocol="grpc"\} (\d+)$/m.exec(
        text,
      );
    expect(Number(handled?.[1])).toBe(calls);
  });

  it('replaces a worker that dies, and answers GetStats and /metrics from the serving workers meanwhile', async () => {
    const workers = workersOf(cluster);
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, 'SIGKILL');
    // At once: the other worker answers, and the scrape does not wait for the replacement.
    const started = Date.now();
    expect((await fetch(cluster.metricsUrl)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1_500);
    const clients = clientsFor(cluster.port);
    try {
      await callUnary(clients.stats.getStats.bind(clients.stats), {});
    } finally {
      clients.close();
    }
    // A replacement starts as the first workers did (beforeAll gives them a minute on a busy machine).
    expect(await replacementServes(cluster)).toBe(true);
    expect(cluster.lines.some((l) => l['msg'] === 'a worker died; starting another' && l['signal'] === 'SIGKILL')).toBe(true);
    expect(cluster.child.exitCode).toBeNull();
  }, 60_000);

  it('says once that SIGHUP has no config file to reload (CONFIG_FILE unset) and keeps serving', async () => {
    cluster.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !cluster.lines.some((l) => String(l['msg']).startsWith('SIGHUP')); i++)
      await new Promise((r) => setTimeout(r, 20));
    const clients = clientsFor(cluster.port);
    try {
      // GetStats asks every worker through the primary: by its answer, a worker given the signal has logged.
      await callUnary(clients.stats.getStats.bind(clients.stats), {});
    } finally {
      clients.close();
    }
    // The primary's line alone: the workers, with no file either, are not given the signal.
    const said = cluster.lines.filter((l) => String(l['msg']).startsWith('SIGHUP'));
    expect(said).toEqual([expect.objectContaining({ level: 'info', msg: 'SIGHUP: no config file to reload (CONFIG_FILE is not set)' })]);
    expect(said[0]).not.toHaveProperty('worker');
    expect(cluster.child.exitCode).toBeNull();
  });

  it('drains both workers on SIGTERM and exits 0', async () => {
    cluster.child.kill('SIGTERM');
    expect(await exitCodeOf(cluster)).toBe(0);
    // The two serving workers (one of them the replacement) stopped.
    expect(cluster.lines.filter((l) => l['msg'] === 'stopped' && l['worker'] !== undefined)).toHaveLength(2);
    // Nothing is left listening.
    const clients = clientsFor(cluster.port);
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) =>
        clients.chat.chat({ model: '', prompt: 'anyone?', messages: [] }, new grpc.Metadata(), { deadline: Date.now() + 1_000 }, (e) =>
          resolve(e as grpc.ServiceError),
        ),
      );
      expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(err.code);
    } finally {
      clients.close();
    }
  });
});

describe('WORKERS=2 when the primary is killed', () => {
  it('each worker drains and exits on its own instead of serving unsupervised', async () => {
    const cluster = await startCluster();
    const workers = workersOf(cluster);
    expect(workers).toHaveLength(2);
    cluster.child.kill('SIGKILL');
    expect(await stillRunning(workers, 200)).toEqual([]);
    expect(workersLogging(cluster.lines, 'shutting down: health NOT_SERVING, draining calls')).toEqual([1, 2]);
  }, 30_000);
});

describe('WORKERS=2 when the primary is killed during a drain delay', () => {
  it('a worker still answers GetStats (its own counters) while it drains, and both stop cleanly', async () => {
    const cluster = await startCluster({ DRAIN_DELAY_MS: '3000' });
    const workers = workersOf(cluster);
    // One connection, opened while the primary hands them out, and kept: the call after its death travels on it.
    const clients = clientsFor(cluster.port);
    try {
      await callUnary(clients.stats.getStats.bind(clients.stats), {});
      cluster.child.kill('SIGKILL');
      for (
        let i = 0;
        i < 100 && cluster.lines.filter((l) => l['msg'] === 'shutting down: health NOT_SERVING, draining calls').length < 2;
        i++
      )
        await new Promise((r) => setTimeout(r, 50));
      // Within the drain delay calls are still served; this one asks for the cluster's counters.
      const { response } = await callUnary(clients.stats.getStats.bind(clients.stats), {});
      expect(response.uptimeSeconds).toBeGreaterThan(0);
    } finally {
      clients.close();
    }
    expect(await stillRunning(workers, 300)).toEqual([]);
    expect(cluster.stderr.join('')).not.toContain('ERR_IPC_CHANNEL_CLOSED');
    expect(workersLogging(cluster.lines, 'stopped')).toEqual([1, 2]);
  }, 60_000);
});

describe('WORKERS=2 when a worker is killed during a clean stop', () => {
  it('the primary exits 1, not 0: a service manager must not read a crash while draining as a clean stop', async () => {
    const cluster = await startCluster({ DRAIN_DELAY_MS: '2000' });
    const [victim, other] = workersOf(cluster);
    cluster.child.kill('SIGTERM');
    for (
      let i = 0;
      i < 100 && cluster.lines.filter((l) => l['msg'] === 'shutting down: health NOT_SERVING, draining calls').length < 2;
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    process.kill(victim as number, 'SIGKILL');
    expect(await exitCodeOf(cluster)).toBe(1);
    expect(await stillRunning([other as number], 100)).toEqual([]);
    expect(cluster.lines.some((l) => l['msg'] === 'stopped after a failure' && l['code'] === 1)).toBe(true);
  }, 60_000);
});

describe('WORKERS > 1 refuses settings the workers cannot share', () => {
  it('names LOG_FILE, limits held in memory and a SQLite ledger file, and exits 2', async () => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN], {
      env: {
        ...process.env,
        WORKERS: '2',
        PORT: '0',
        METRICS_PORT: '0',
        HTTP_PORT: '0',
        LOG_FILE: '/tmp/llmo-cluster-test.log',
        RATE_LIMIT_REQUESTS: '5',
        REDIS_URL: '',
        DATABASE_URL: '',
      },
    });
    const stderr: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    expect(await exitCodeOf({ child })).toBe(2);
    const text = stderr.join('');
    expect(text).toContain('config error: WORKERS: 2 workers would each enforce the rate limits and budgets on their own; set REDIS_URL');
    expect(text).toContain('config error: LOG_FILE: 2 workers would each write and rotate the same file');
    expect(text).toContain('config error: DATABASE_URL: 2 workers would each open the SQLite ledger ./data/orchestrator.db');
  });

  it('names an in-memory SQLite ledger, which each worker would keep apart, and exits 2', async () => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN], {
      env: { ...process.env, WORKERS: '2', PORT: '0', METRICS_PORT: '0', HTTP_PORT: '0', DATABASE_URL: 'sqlite::memory:' },
    });
    const stderr: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    expect(await exitCodeOf({ child })).toBe(2);
    expect(stderr.join('')).toContain('config error: DATABASE_URL: 2 workers would each keep a ledger of their own calls in memory');
  });
});

describe('WORKERS=2 with runtime API keys in PostgreSQL and no Redis', () => {
  let pg: PostgresProcess;
  let cluster: Cluster;
  beforeAll(async () => {
    pg = await startPostgres();
    const dir = mkdtempSync(join(tmpdir(), 'llmo-cluster-keys-'));
    const file = join(dir, 'access.yaml');
    writeFileSync(file, `access:\n  api_keys:\n    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
    cluster = await startCluster({ DATABASE_URL: pg.url, CONFIG_FILE: file, KEYS_REFRESH_MS: '300', REDIS_URL: '' });
  }, 90_000);
  afterAll(async () => {
    if (cluster?.child.exitCode === null) {
      cluster.child.kill('SIGTERM');
      await exitCodeOf(cluster);
    }
    await pg?.destroy();
  });

  it('refuses a key with limits or budgets, which each worker would enforce on its own, and takes one without', async () => {
    const admin = { metadata: { authorization: 'Bearer root-secret' } };
    const keys = new ApiKeyServiceClient(`127.0.0.1:${cluster.port}`, grpc.credentials.createInsecure());
    try {
      for (const parts of [{ limits: { requestsPerMinute: 2 } }, { budgets: { usdPerDay: 1 } }]) {
        const err = await unaryError(keys.createApiKey.bind(keys), { name: 'limited', ...parts }, admin);
        expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
        expect(err.details).toContain('REDIS_URL');
      }
      await callUnary(keys.createApiKey.bind(keys), { name: 'open' }, admin);
      const err = await unaryError(keys.updateApiKey.bind(keys), { name: 'open', limits: { tokensPerMinute: 100 } }, admin);
      expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(err.details).toContain('REDIS_URL');
    } finally {
      keys.close();
    }
  });

  it('warns once in each worker, naming it, when another replica gives a key limits each worker then enforces on its own', async () => {
    // Another replica (one process, or workers with Redis) may give a key limits: this cluster reads it from the table.
    const other = connectLedger({ kind: 'postgres', url: pg.url });
    try {
      const now = Date.now();
      const inserted = await insertApiKey(other.db, {
        name: 'elsewhere',
        sha256: sha('elsewhere-secret'),
        keyPrefix: 'llmo_elsewh',
        allowedModels: ['*'],
        limits: { requestsPerMinute: 2, tokensPerMinute: undefined },
        budgets: { usdPerDay: undefined, usdPerMonth: undefined },
        scopes: [],
        createdAt: now,
        updatedAt: now,
        revokedAt: undefined,
      });
      expect(inserted).toBe(true);
    } finally {
      await other.close();
    }
    const warnings = () => cluster.lines.filter((l) => l['level'] === 'warn' && l['keyName'] === 'elsewhere');
    await eventually(
      () => Promise.resolve(warnings().length),
      (n) => n >= 2,
      10_000,
    );
    // Several more reads of the table (every 300 ms) add no line.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(
      warnings()
        .map((l) => l['worker'])
        .sort(),
    ).toEqual([1, 2]);
    expect(String(warnings()[0]?.['msg'])).toContain('REDIS_URL');
  });

  it('replaces a worker that dies while a key holds limits from another replica, applying them as the others do', async () => {
    const other = connectLedger({ kind: 'postgres', url: pg.url });
    try {
      const now = Date.now();
      await insertApiKey(other.db, {
        name: 'budgeted',
        sha256: sha('budgeted-secret'),
        keyPrefix: 'llmo_budget',
        allowedModels: ['*'],
        limits: { requestsPerMinute: undefined, tokensPerMinute: undefined },
        budgets: { usdPerDay: 5, usdPerMonth: undefined },
        scopes: [],
        createdAt: now,
        updatedAt: now,
        revokedAt: undefined,
      });
    } finally {
      await other.close();
    }
    const warned = () => cluster.lines.filter((l) => l['level'] === 'warn' && l['keyName'] === 'budgeted').map((l) => l['worker']);
    await eventually(
      () => Promise.resolve(warned().length),
      (n) => n >= 2,
      10_000,
    );
    process.kill(workersOf(cluster)[0]!, 'SIGKILL');
    expect(await replacementServes(cluster)).toBe(true);
    expect(cluster.stderr.join('')).not.toContain('config error');
    expect(cluster.child.exitCode).toBeNull();
    // The replacement says it enforces them on its own, as the first workers did.
    expect(warned().filter((w) => w !== 1 && w !== 2)).toHaveLength(1);
  }, 60_000);
});

describe('WORKERS=2 without Redis, on a database that already holds a runtime key with limits', () => {
  it('refuses to start, naming the key, instead of letting each worker enforce its limits on its own', async () => {
    const pg = await startPostgres();
    try {
      const dir = mkdtempSync(join(tmpdir(), 'llmo-cluster-stored-'));
      const file = join(dir, 'access.yaml');
      writeFileSync(file, `access:\n  api_keys:\n    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\n`);
      // Created by one process, which may enforce them alone.
      const single = await startMain({ DATABASE_URL: pg.url, CONFIG_FILE: file, SIMULATOR_LATENCY_SCALE: '0', REDIS_URL: '' });
      const keys = new ApiKeyServiceClient(`127.0.0.1:${single.port}`, grpc.credentials.createInsecure());
      try {
        await callUnary(
          keys.createApiKey.bind(keys),
          { name: 'limited', limits: { requestsPerMinute: 2 } },
          { metadata: { authorization: 'Bearer root-secret' } },
        );
      } finally {
        keys.close();
        single.child.kill('SIGTERM');
        await exitCodeOf(single);
      }
      const child = spawn(process.execPath, ['--import', TSX, MAIN], {
        env: {
          ...process.env,
          WORKERS: '2',
          PORT: '0',
          HOST: '127.0.0.1',
          METRICS_PORT: '0',
          HTTP_PORT: '0',
          OPENAI_API_KEY: '',
          REDIS_URL: '',
          DATABASE_URL: pg.url,
          CONFIG_FILE: file,
        },
      });
      const stderr: string[] = [];
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
      const listening = new Promise<boolean>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('llm-orchestrator listening (cluster)')) resolve(true);
        });
        child.once('exit', () => resolve(false));
      });
      const started = await listening;
      if (started) child.kill('SIGTERM');
      expect(started).toBe(false);
      expect(await exitCodeOf({ child })).toBe(2);
      expect(stderr.join('')).toContain('config error: WORKERS: runtime API key limited has limits or budgets');
    } finally {
      await pg.destroy();
    }
  }, 120_000);
});

/** A config file's keys: an open root key; then beside it a key with limits each worker would enforce on its own. */
const ROOT_ONLY = `access:\n  api_keys:\n    - { name: root, sha256: ${sha('root-secret')} }\n`;
const WITH_LIMITED_KEY = `access:\n  api_keys:\n    - { name: root, sha256: ${sha('root-secret')} }\n    - { name: limited, sha256: ${sha('limited-secret')}, limits: { requests_per_minute: 2 } }\n`;

describe('WORKERS=2 without Redis, reloading the config file (SIGHUP)', () => {
  it('keeps the keys it had when the file now gives a key limits each worker would enforce on its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-cluster-reload-'));
    const file = join(dir, 'access.yaml');
    writeFileSync(file, ROOT_ONLY);
    const cluster = await startCluster({ CONFIG_FILE: file, REDIS_URL: '' });
    try {
      writeFileSync(file, WITH_LIMITED_KEY);
      const outcomes = () =>
        cluster.lines.filter(
          (l) => String(l['msg']).startsWith('API keys reloaded') || String(l['msg']).startsWith('config file not reloaded'),
        );
      cluster.child.kill('SIGHUP');
      for (let i = 0; i < 200 && outcomes().length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(outcomes().map((l) => l['msg'])).toEqual([
        'config file not reloaded: its API keys stay as they were',
        'config file not reloaded: its API keys stay as they were',
      ]);
      const codes: (number | string)[] = [];
      for (let i = 0; i < 4; i++) {
        const clients = clientsFor(cluster.port);
        try {
          await callUnary(
            clients.chat.chat.bind(clients.chat),
            { model: 'gpt-4o-mini', prompt: `call ${i}`, messages: [], maxTokens: 3 },
            { metadata: { authorization: 'Bearer limited-secret' } },
          );
          codes.push('OK');
        } catch (err) {
          codes.push((err as grpc.ServiceError).code);
        } finally {
          clients.close();
        }
      }
      expect(codes).toEqual([16, 16, 16, 16].map(() => grpc.status.UNAUTHENTICATED));
    } finally {
      cluster.child.kill('SIGTERM');
      await exitCodeOf(cluster);
    }
  }, 60_000);
});

describe('WORKERS=2 without Redis, a worker replaced after the config file changed', () => {
  it('refuses the limits each worker would enforce on its own, as start-up does, instead of serving them in the replacement', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-cluster-replaced-'));
    const file = join(dir, 'access.yaml');
    writeFileSync(file, ROOT_ONLY);
    const cluster = await startCluster({ CONFIG_FILE: file, REDIS_URL: '' });
    try {
      writeFileSync(file, WITH_LIMITED_KEY);
      process.kill(workersOf(cluster)[0]!, 'SIGKILL');
      expect(await replacementServes(cluster)).toBe(false);
      expect(cluster.stderr.join('')).toContain('config error: WORKERS: 2 workers would each enforce the rate limits and budgets');
      // Every replacement refuses it: the service stops with the config error's code.
      expect(await exitCodeOf(cluster)).toBe(2);
    } finally {
      if (cluster.child.exitCode === null) cluster.child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('WORKERS=2 with DEFAULT_MODEL a runtime model, deleted while the workers serve', () => {
  it('replaces a worker that dies, as the running workers serve on without that model, instead of stopping the service', async () => {
    const pg = await startPostgres();
    try {
      const house = {
        id: 'house-default',
        provider: 'openai',
        upstreamId: 'gpt-4o-mini',
        aliases: [],
        contextWindow: 32_000,
        inputPricePerMillion: 1,
        outputPricePerMillion: 2,
        quality: 0.6,
        capabilities: { tools: true, images: false, jsonSchema: false },
        fallbacks: [],
        family: '',
        tier: 0,
      };
      const single = await startMain({ DATABASE_URL: pg.url, SIMULATOR_LATENCY_SCALE: '0' });
      const first = clientsFor(single.port);
      try {
        await callUnary(first.models.createModel.bind(first.models), { model: house });
      } finally {
        first.close();
        single.child.kill('SIGTERM');
        await exitCodeOf(single);
      }
      const cluster = await startCluster({ DATABASE_URL: pg.url, DEFAULT_MODEL: 'house-default' });
      try {
        const clients = clientsFor(cluster.port);
        try {
          await callUnary(clients.models.deleteModel.bind(clients.models), { id: 'house-default' });
        } finally {
          clients.close();
        }
        process.kill(workersOf(cluster)[0]!, 'SIGKILL');
        expect(await replacementServes(cluster)).toBe(true);
        expect(cluster.stderr.join('')).not.toContain('config error');
        expect(cluster.child.exitCode).toBeNull();
      } finally {
        cluster.child.kill('SIGTERM');
        await exitCodeOf(cluster);
      }
    } finally {
      await pg.destroy();
    }
  }, 120_000);
});

describe('WORKERS=2 with DATABASE_URL=off: SyncCatalog', () => {
  it('changes the catalog of the worker that ran it alone: the other has no database to read it from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-cluster-sync-'));
    const file = join(dir, 'catalog.yaml');
    const arena = pathToFileURL(resolve('test/fixtures/catalog-sync/arena-leaderboard.csv')).href;
    writeFileSync(
      file,
      `access:\n  api_keys:\n    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }\ncatalog:\n  sync:\n    arena: { url: "${arena}", min_votes: 0 }\n`,
    );
    const cluster = await startCluster({ CONFIG_FILE: file });
    const admin = { metadata: { authorization: 'Bearer root-secret' } };
    try {
      const clients = clientsFor(cluster.port);
      try {
        const { response } = await callUnary(
          clients.models.syncCatalog.bind(clients.models),
          { source: CatalogSource.CATALOG_SOURCE_ARENA },
          admin,
        );
        expect(response.reports[0]?.ok).toBe(true);
      } finally {
        clients.close();
      }
      // A connection of its own per listing: the primary hands them to the workers in turn.
      const qualitySources = new Set<CatalogSource | undefined>();
      for (let i = 0; i < 4; i++) {
        const other = clientsFor(cluster.port);
        try {
          const { response } = await callUnary(other.models.listModels.bind(other.models), { provider: '', availableOnly: false }, admin);
          qualitySources.add(response.models.find((m) => m.id === 'gpt-4.1')?.provenance.find((p) => p.field === 'quality')?.source);
        } finally {
          other.close();
        }
      }
      expect(qualitySources).toEqual(new Set([CatalogSource.CATALOG_SOURCE_ARENA, CatalogSource.CATALOG_SOURCE_BUILTIN]));
      const operations = readFileSync('docs/operations.md', 'utf8');
      const workersSection = operations.slice(
        operations.indexOf('### Several workers on one machine'),
        operations.indexOf('### Drain and shutdown'),
      );
      expect(workersSection).toContain('`SyncCatalog` with `DATABASE_URL=off`');
    } finally {
      cluster.child.kill('SIGTERM');
      await exitCodeOf(cluster);
    }
  }, 60_000);
});

/** The HTTP/2 client preface and an empty SETTINGS frame: a server that takes the connection answers. */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** A plain TCP connection that sends the preface: 'served' once the server answers, 'closed' if it closes it, 'neither' after `withinMs`. */
function connectRaw(
  port: number,
  withinMs: number,
): Promise<{ readonly outcome: 'served' | 'closed' | 'neither'; readonly socket: Socket }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const timer = setTimeout(() => resolve({ outcome: 'neither', socket }), withinMs);
    socket.once('data', () => {
      clearTimeout(timer);
      resolve({ outcome: 'served', socket });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ outcome: 'closed', socket });
    });
    socket.on('connect', () => socket.write(H2_PREFACE));
  });
}

describe('WORKERS=2 with GRPC_MAX_CONNECTIONS', () => {
  it('closes a connection past every worker’s cap at once, as one process does, instead of holding it unserved', async () => {
    const cluster = await startCluster({ GRPC_MAX_CONNECTIONS: '1' });
    const sockets: Socket[] = [];
    try {
      // One connection each: both workers are at their cap.
      for (let i = 0; i < 2; i++) {
        const held = await connectRaw(cluster.port, 5_000);
        sockets.push(held.socket);
        expect(held.outcome).toBe('served');
      }
      for (let i = 0; i < 2; i++) {
        const past = await connectRaw(cluster.port, 3_000);
        sockets.push(past.socket);
        expect(past.outcome).toBe('closed');
      }
      // A slot freed on either worker takes the next connection.
      sockets[0]?.destroy();
      const next = await eventually(
        async () => {
          const attempt = await connectRaw(cluster.port, 3_000);
          sockets.push(attempt.socket);
          return attempt.outcome;
        },
        (outcome) => outcome === 'served',
        15_000,
      );
      expect(next).toBe('served');
    } finally {
      for (const s of sockets) s.destroy();
      cluster.child.kill('SIGTERM');
      await exitCodeOf(cluster);
    }
  }, 60_000);
});
