import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSource, type SyncCatalogRequest, type SyncCatalogResponse } from '../../src/gen/orchestrator/v1/models.js';
import { sha } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { callUnary, type UnaryMethod, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { maxConcurrent } from '../helpers/overlap.js';
import { type SourceRequest, type SourceServer, fixture, startSourceServer } from '../helpers/source-server.js';

/**
 * SyncCatalog on one server takes the same lock and one-run-at-a-time rule as the schedule: two
 * calls at once, or a call during a scheduled run, never fetch the source twice at the same time.
 */
const admin = { metadata: { authorization: 'Bearer root-secret' } };
const OPENROUTER = '/api/v1/models';
const ARENA = '/arena.csv';

/** The most requests to `path` that were open at the source at the same moment. */
function overlap(requests: readonly SourceRequest[], path: string): number {
  return maxConcurrent(requests.filter((r) => r.path === path));
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function gate() {
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  return { held, release };
}

/** A config file with an admin key (root-secret) and OpenRouter's catalog synced from `source`, then `moreSync` (lines under `sync:`). */
function catalogConfig(source: SourceServer, moreSync = ''): string {
  return writeConfigFile(`access:
  api_keys:
    - { name: root, sha256: ${sha('root-secret')}, scopes: [admin] }
catalog:
  sync:
    openrouter: { url: "${source.url}${OPENROUTER}" }
${moreSync}`);
}

describe('SyncCatalog through the sync lock, on one server', () => {
  let source: SourceServer;
  let h: Harness;
  const arenaGate = gate();

  beforeAll(async () => {
    source = await startSourceServer();
    // The Arena runs every second (croner's seconds field), and its first run hangs until released.
    source.set(ARENA, { body: fixture('arena-leaderboard.csv'), hold: arenaGate.held });
    const file = catalogConfig(source, `    arena: { url: "${source.url}${ARENA}", min_votes: 0, interval: "* * * * * *" }\n`);
    h = await startHarness({ env: { CONFIG_FILE: file } });
  });
  afterAll(async () => {
    arenaGate.release();
    await h?.close();
    await source?.close();
  });

  const sync = async (s: CatalogSource) =>
    (await callUnary(h.clients.models.syncCatalog.bind(h.clients.models), { source: s }, admin)).response.reports;

  it('two SyncCatalog calls at once run the source once: both get the report of that run', async () => {
    const { held, release } = gate();
    source.set(OPENROUTER, { body: fixture('openrouter-models.json'), hold: held });
    const first = sync(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    const second = sync(CatalogSource.CATALOG_SOURCE_OPENROUTER);
    expect(await until(() => source.requests.some((r) => r.path === OPENROUTER), 5_000)).toBe(true);
    // Unserialised, the second call's fetch would be open beside the first by now.
    await until(() => source.requests.filter((r) => r.path === OPENROUTER).length >= 2, 500);
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(a?.[0]).toMatchObject({ source: CatalogSource.CATALOG_SOURCE_OPENROUTER, ok: true });
    expect(b?.[0]?.ok).toBe(true);
    // One run, not two in a row: one fetch, and both callers hold the report of that run.
    expect(source.requests.filter((r) => r.path === OPENROUTER)).toHaveLength(1);
    expect(b?.[0]?.startedAt).toEqual(a?.[0]?.startedAt);
    expect(overlap(source.requests, OPENROUTER)).toBe(1);
  });

  it('SyncCatalog during a scheduled run waits for that run and answers its report', async () => {
    // The schedule's tick (within a second of start-up) is hanging at the source.
    expect(await until(() => source.requests.some((r) => r.path === ARENA), 5_000)).toBe(true);
    const calledAt = Date.now();
    const manual = sync(CatalogSource.CATALOG_SOURCE_ARENA);
    await until(() => source.requests.filter((r) => r.path === ARENA).length >= 2, 500);
    expect(source.requests.filter((r) => r.path === ARENA)).toHaveLength(1);
    arenaGate.release();
    const [report] = await manual;
    expect(report).toMatchObject({ source: CatalogSource.CATALOG_SOURCE_ARENA, ok: true });
    // The scheduled run's report: it started before the call was made.
    const started = (report?.startedAt?.seconds ?? 0) * 1000 + Math.floor((report?.startedAt?.nanos ?? 0) / 1e6);
    expect(started).toBeLessThan(calledAt);
    expect(overlap(source.requests, ARENA)).toBe(1);
  });
});

/** A server with an admin key whose one catalog source is OpenRouter's, answered by `source`; the test stops the app itself. */
async function openRouterServer(): Promise<{ readonly source: SourceServer; readonly h: Harness; close(): Promise<void> }> {
  const source = await startSourceServer();
  const file = catalogConfig(source);
  const h = await startHarness({ env: { CONFIG_FILE: file } });
  return {
    source,
    h,
    async close() {
      h.clients.close();
      await h.upstream.close();
      await source.close();
    },
  };
}

/**
 * Sends SyncCatalog of OpenRouter as the admin with `send` (callUnary, or unaryError for a call that fails),
 * and once the source has its request asks the server to stop within `graceMs`: both left under way.
 */
async function syncWhileStopping<T>(
  { source, h }: { readonly source: SourceServer; readonly h: Harness },
  send: (method: UnaryMethod<SyncCatalogRequest, SyncCatalogResponse>, request: SyncCatalogRequest, options: typeof admin) => Promise<T>,
  graceMs: number,
): Promise<{ call: Promise<T>; stopping: Promise<void> }> {
  const call = send(h.clients.models.syncCatalog.bind(h.clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER }, admin);
  expect(await until(() => source.requests.some((r) => r.path === OPENROUTER), 5_000)).toBe(true);
  return { call, stopping: h.app.stop(graceMs) };
}

describe('SyncCatalog when the server is asked to stop', () => {
  it('finishes within the grace period like any call in flight', async () => {
    const { source, h, close } = await openRouterServer();
    const { held, release } = gate();
    source.set(OPENROUTER, { body: fixture('openrouter-models.json'), hold: held });
    try {
      const { call, stopping } = await syncWhileStopping({ source, h }, callUnary, 10_000);
      // The source answers well within the grace period.
      await new Promise((r) => setTimeout(r, 300));
      release();
      const [report] = (await call).response.reports;
      expect(report).toMatchObject({ source: CatalogSource.CATALOG_SOURCE_OPENROUTER, ok: true });
      expect(report?.error).toBe('');
      await stopping;
    } finally {
      release();
      await close();
    }
  }, 30_000);
});

describe('SyncCatalog still running when the grace period ends', () => {
  it('ends with UNAVAILABLE (DRAINING), as other calls cut by shutdown do', async () => {
    const { source, h, close } = await openRouterServer();
    source.set(OPENROUTER, { hang: true });
    try {
      const { call, stopping } = await syncWhileStopping({ source, h }, unaryError, 300);
      const err = await call;
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.decoded.errorInfo?.reason).toBe('DRAINING');
      await stopping;
    } finally {
      await close();
    }
  }, 30_000);
});
