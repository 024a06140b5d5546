import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RuntimeModelSpec } from '../../src/gen/orchestrator/v1/models.js';
import { CatalogStore } from '../../src/store/catalog-store.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startPostgres, type PostgresProcess } from '../helpers/postgres.js';

function spec(overrides: Partial<RuntimeModelSpec>): RuntimeModelSpec {
  return { id: 'house', provider: 'openai', upstreamId: 'gpt-4o-mini', aliases: [], fallbacks: [], family: '', tier: 0, ...overrides };
}

const at = new Date();
/** Another replica's model, as its CreateModel writes it. */
const theirs = (id: string, aliases: string[]) => ({
  id,
  provider: 'openai',
  upstreamId: 'gpt-4o-mini',
  aliases,
  fallbacks: [],
  createdAt: at,
  updatedAt: at,
});

function racesOn(name: string, databaseUrl: () => string) {
  describe(`runtime model names on ${name}, when another replica writes between this one's check and its write`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ env: { DATABASE_URL: databaseUrl(), CATALOG_POLL_MS: '60000' } });
    }, 60_000);
    afterAll(async () => h?.close());

    const ids = async (): Promise<string[]> =>
      (await callUnary(h.clients.models.listModels.bind(h.clients.models), { provider: '', availableOnly: false })).response.models.map(
        (m) => m.id,
      );

    /** Runs `call` with another replica's `model` committed just before this replica writes. */
    async function afterTheirs<T>(model: ReturnType<typeof theirs>, call: () => Promise<T>): Promise<T> {
      const put = CatalogStore.prototype.putRuntimeModel;
      const raced = vi.spyOn(CatalogStore.prototype, 'putRuntimeModel').mockImplementationOnce(async function (
        this: CatalogStore,
        ...args: Parameters<CatalogStore['putRuntimeModel']>
      ) {
        expect(await put.call(this, model, 'create')).toBe(true);
        return put.apply(this, args);
      });
      try {
        return await call();
      } finally {
        raced.mockRestore();
      }
    }

    it.each([
      ['an alias it takes', 'taken-by-alias', ['shared-alias'], spec({ id: 'mine-by-alias', aliases: ['shared-alias'] })],
      ['its id in another case', 'Twin-Case', [], spec({ id: 'twin-case' })],
    ])(
      'CreateModel is ALREADY_EXISTS when the other replica took %s, and the catalog still takes changes',
      async (_, id, aliases, mine) => {
        const create = h.clients.models.createModel.bind(h.clients.models);
        const refused = await afterTheirs(theirs(id, aliases), () => unaryError(create, { model: mine }));
        expect(refused.code).toBe(grpc.status.ALREADY_EXISTS);
        expect(refused.decoded.errorInfo?.reason).toBe('MODEL_EXISTS');
        expect(await ids()).toContain(id);
        expect(await ids()).not.toContain(mine.id);
        // Not stuck on a catalog that cannot be built: the next change is served.
        await callUnary(create, { model: spec({ id: `${mine.id}-next` }) });
        expect(await ids()).toContain(`${mine.id}-next`);
        for (const gone of [id, `${mine.id}-next`]) await callUnary(h.clients.models.deleteModel.bind(h.clients.models), { id: gone });
      },
    );

    it('UpdateModel is ALREADY_EXISTS when the other replica took the alias it gives, and the model keeps its names', async () => {
      const models = h.clients.models;
      await callUnary(models.createModel.bind(models), { model: spec({ id: 'renamed', aliases: ['old-name'] }) });
      const refused = await afterTheirs(theirs('new-owner', ['new-name']), () =>
        unaryError(models.updateModel.bind(models), { model: spec({ id: 'renamed', aliases: ['new-name'] }) }),
      );
      expect(refused.code).toBe(grpc.status.ALREADY_EXISTS);
      const listed = (await callUnary(models.listModels.bind(models), { provider: '', availableOnly: false })).response.models;
      expect(listed.find((m) => m.id === 'renamed')?.aliases).toEqual(['old-name']);
      expect(listed.find((m) => m.id === 'new-owner')?.aliases).toEqual(['new-name']);
      for (const gone of ['renamed', 'new-owner']) await callUnary(models.deleteModel.bind(models), { id: gone });
    });
  });
}

racesOn('SQLite', () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'llmo-races-')), 'ledger.db')}`);

let pg: PostgresProcess | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 90_000);
afterAll(async () => pg?.destroy());
racesOn('PostgreSQL', () => (pg as PostgresProcess).url);
