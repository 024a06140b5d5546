import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { eventually } from '../helpers/eventually.js';
import { type RedisProcess, startRedis } from '../helpers/redis.js';

/** What keeps a process alive: listening servers, sockets, timers, worker threads, by kind. */
const holding = (): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
};
/** The kinds held now beyond what was held before, with how many more. */
const added = (before: Map<string, number>, now: Map<string, number>): string[] =>
  [...now].flatMap(([kind, n]) => (n > (before.get(kind) ?? 0) ? [`${kind} +${n - (before.get(kind) ?? 0)}`] : [])).sort();

describe('a start-up that fails part way', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => redis?.stop());

  const settled = async (before: Map<string, number>) =>
    eventually(
      async () => added(before, holding()),
      (more) => more.length === 0,
      5_000,
    );
  const env = (more: Record<string, string>) => ({
    HOST: '127.0.0.1',
    PORT: '0',
    HTTP_PORT: '0',
    METRICS_PORT: '0',
    SIMULATOR: 'on',
    SIMULATOR_PORT: '0',
    REDIS_URL: redis.url,
    DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'startup-')), 'ledger.db')}`,
    ...more,
  });

  it('on a catalog the config file gets wrong (after the simulator and Redis were started) closes them', async () => {
    const file = writeConfigFile(`models:
  - { id: alpha, provider: openai, context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 1, family: t, tier: small, quality: 0.5, fallbacks: [nope] }
`);
    const before = holding();
    await expect(startApp(loadConfig(env({ CONFIG_FILE: file })), createLogger('silent'), {})).rejects.toThrow(
      /falls back to unknown model "nope"/,
    );
    expect(await settled(before)).toEqual([]);
  }, 30_000);

  it('on a DEFAULT_MODEL only the database could have held (after the ledger and the live catalog started) closes them', async () => {
    const before = holding();
    await expect(startApp(loadConfig(env({ DEFAULT_MODEL: 'house-model' })), createLogger('silent'), {})).rejects.toThrow(
      /DEFAULT_MODEL: "house-model" is not in the catalog/,
    );
    expect(await settled(before)).toEqual([]);
  }, 30_000);

  it('on a SQLite ledger file that cannot be opened (after the simulator, Redis and /metrics were started) closes them and the writer thread', async () => {
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'startup-')), 'a-file');
    writeFileSync(notADirectory, '');
    const before = holding();
    await expect(
      startApp(loadConfig(env({ DATABASE_URL: `sqlite:${join(notADirectory, 'ledger.db')}` })), createLogger('silent'), {}),
    ).rejects.toThrow(/DATABASE_URL: cannot open/);
    expect(await settled(before)).toEqual([]);
  }, 30_000);

  it.each(['PORT', 'HTTP_PORT', 'METRICS_PORT'])(
    'with %s in use closes everything it had started: nothing is left listening, connected or waiting',
    async (setting) => {
      const taken = createNetServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const { port } = taken.address() as AddressInfo;
      const before = holding();
      const config = loadConfig(env({ [setting]: String(port) }));
      try {
        await expect(startApp(config, createLogger('silent'), {})).rejects.toThrow(/in use|EADDRINUSE/);
        expect(await settled(before)).toEqual([]);
      } finally {
        taken.close();
      }
    },
    30_000,
  );

  it('with HTTP_PORT in use once the gRPC port is bound fails at once, without the drain delay a stop waits, and frees the gRPC port', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    const before = holding();
    const config = loadConfig(env({ HTTP_PORT: String(port), DRAIN_DELAY_MS: '600000' }));
    try {
      const failed = startApp(config, createLogger('silent'), {}).then(
        () => 'started',
        (err: unknown) => String(err),
      );
      let timer: NodeJS.Timeout | undefined;
      const lingering = new Promise<string>((resolve) => {
        timer = setTimeout(resolve, 20_000, 'still closing after 20 s');
      });
      expect(await Promise.race([failed, lingering]).finally(() => clearTimeout(timer))).toMatch(/in use|EADDRINUSE/);
      expect(await settled(before)).toEqual([]);
    } finally {
      taken.close();
    }
  }, 60_000);
});

describe('a DEFAULT_MODEL that is not a chat model', () => {
  // ListModels lists the embedding models too: pointing there would show the very name refused.
  it('says it is an embedding model, not that it is missing from the catalog', async () => {
    const env = { HOST: '127.0.0.1', PORT: '0', HTTP_PORT: '0', METRICS_PORT: '0', SIMULATOR: 'on', DATABASE_URL: 'sqlite::memory:' };
    const failed = await startApp(loadConfig({ ...env, DEFAULT_MODEL: 'Text-Embedding-3-Small' }), createLogger('silent'), {}).catch(
      (err: unknown) => err as Error,
    );
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(/DEFAULT_MODEL: "Text-Embedding-3-Small" is the embedding model text-embedding-3-small/);
    expect((failed as Error).message).not.toContain('ListModels');
  }, 30_000);
});
