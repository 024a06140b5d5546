import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arenaQuality, createArenaSource } from '../../../../src/catalog/sync/arena.js';
import { SyncError } from '../../../../src/catalog/sync/errors.js';
import type { SourceModel } from '../../../../src/catalog/sync/types.js';
import { FIXTURES, type SourceServer, fixture, startSourceServer } from '../../../helpers/source-server.js';

let server: SourceServer;
beforeAll(async () => {
  server = await startSourceServer();
});
afterAll(() => server.close());

const signal = () => new AbortController().signal;
const byId = (models: readonly SourceModel[], id: string) => models.find((m) => m.externalId === id);

async function failure(promise: Promise<unknown>): Promise<SyncError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SyncError);
  return err as SyncError;
}

describe('Arena source', () => {
  it('reads the CSV table: scores, intervals, votes, and a quality by win rate against the median', async () => {
    server.set('/leaderboard.csv', { body: fixture('arena-leaderboard.csv'), headers: { 'content-type': 'text/csv' } });
    const models = await createArenaSource({ url: `${server.url}/leaderboard.csv` }).load(signal());
    expect(models).toHaveLength(9);
    // The median of the nine scores is 1272 (GPT-4o-mini): exactly 0.5.
    expect(byId(models, 'GPT-4o-mini-2024-07-18')?.quality).toBe(0.5);
    const gpt4o = byId(models, 'GPT-4o-2024-05-13');
    expect(gpt4o?.quality).toBeCloseTo(1 / (1 + 10 ** ((1272 - 1285) / 400)), 4);
    expect(gpt4o?.raw).toMatchObject({ score: 1285, ciLower: 1283, ciUpper: 1287, votes: 117_745, Organization: 'OpenAI' });
    // "+5/-6": five above the score, six below.
    expect(byId(models, 'GPT-4.1-2025-04-14')?.raw).toMatchObject({ score: 1366, ciLower: 1360, ciUpper: 1371 });
    expect(byId(models, 'Meta-Llama-3.1-8B-Instruct')?.license).toBe('Llama 3.1 Community');
    // Order is kept: a higher score is always a higher quality.
    const sorted = [...models].sort((a, b) => (b.raw.score as number) - (a.raw.score as number));
    expect(sorted.map((m) => m.quality)).toEqual([...sorted.map((m) => m.quality)].sort((a, b) => (b ?? 0) - (a ?? 0)));
  });

  it('reads the JSON shape (dataset viewer rows with rating_q025/q975 and vote_count)', async () => {
    server.set('/rows', { body: fixture('arena-leaderboard.json') });
    const models = await createArenaSource({ url: `${server.url}/rows`, referenceScore: 1200 }).load(signal());
    expect(models.map((m) => m.externalId)).toEqual([
      'gpt-4.1-2025-04-14',
      'gpt-4o-2024-05-13',
      'gpt-4o-mini-2024-07-18',
      'llama-3.1-8b-instruct',
      'new-model-preview',
    ]);
    expect(byId(models, 'gpt-4o-2024-05-13')).toMatchObject({
      quality: arenaQuality(1285.4, 1200),
      raw: { ciLower: 1283.1, ciUpper: 1287.6, votes: 117_745, referenceScore: 1200 },
    });
  });

  it('leaves out rows with too few votes', async () => {
    server.set('/rows', { body: fixture('arena-leaderboard.json') });
    const models = await createArenaSource({ url: `${server.url}/rows`, minVotes: 1_000 }).load(signal());
    expect(byId(models, 'new-model-preview')).toBeUndefined();
    expect(models).toHaveLength(4);
  });

  it('maps scores to quality by the Elo win-rate formula', () => {
    expect(arenaQuality(1300, 1300)).toBe(0.5);
    expect(arenaQuality(1700, 1300)).toBeCloseTo(10 / 11, 4);
    expect(arenaQuality(900, 1300)).toBeCloseTo(1 / 11, 4);
    expect(arenaQuality(1301, 1300)).toBeGreaterThan(0.5);
  });

  it('sees a changed score and a new model on the next load', async () => {
    const source = createArenaSource({ url: `${server.url}/moving.csv`, referenceScore: 1200 });
    const csv = fixture('arena-leaderboard.csv');
    server.set('/moving.csv', { body: csv });
    const before = await source.load(signal());
    server.set('/moving.csv', {
      body: `${csv.replace('1176,+3/-3', '1210,+3/-3')}10,Grok-3-Preview-02-24,1402,+5/-5,"14,849",xAI,Proprietary,Unknown\n`,
    });
    const after = await source.load(signal());
    expect(byId(after, 'Meta-Llama-3.1-8B-Instruct')?.quality).toBeGreaterThan(byId(before, 'Meta-Llama-3.1-8B-Instruct')?.quality ?? 1);
    expect(byId(before, 'Grok-3-Preview-02-24')).toBeUndefined();
    expect(byId(after, 'Grok-3-Preview-02-24')?.quality).toBe(arenaQuality(1402, 1200));
  });

  it('refuses a table without the columns it needs, or with a score that is not a number', async () => {
    server.set('/bad.csv', { body: 'Rank,Team,Points\n1,a,3\n' });
    expect((await failure(createArenaSource({ url: `${server.url}/bad.csv` }).load(signal()))).message).toMatch(
      /no row has both a model name and a score/,
    );
    server.set('/nan.csv', { body: 'Model,Arena Score\nx,high\n' });
    expect((await failure(createArenaSource({ url: `${server.url}/nan.csv` }).load(signal()))).message).toMatch(
      /row 1 \(x\): the score "high"/,
    );
    server.set('/obj.json', { body: '{"leaderboard": {"rows": 3}}' });
    expect((await failure(createArenaSource({ url: `${server.url}/obj.json` }).load(signal()))).kind).toBe('malformed');
  });

  it('says an HTML page is not a table, rather than a table without its columns', async () => {
    // A mirror's login or error page answered 200: read as CSV, it failed as a table without a model or score column.
    const page = '\n<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><p>Model, Arena Score</p></body></html>\n';
    server.set('/page', { body: page, headers: { 'content-type': 'text/html' } });
    for (const format of ['auto', 'csv'] as const) {
      const err = await failure(createArenaSource({ url: `${server.url}/page`, format }).load(signal()));
      expect(err).toMatchObject({ kind: 'malformed' });
      expect(err.message).toBe('Arena leaderboard: not a CSV or JSON table: the answer looks like an HTML page');
    }
  });

  it('fails on a timeout and a 429, with the Retry-After kept', async () => {
    server.set('/slow', { hang: true });
    expect((await failure(createArenaSource({ url: `${server.url}/slow`, timeoutMs: 150 }).load(signal()))).kind).toBe('timeout');
    server.set('/busy', { status: 429, headers: { 'retry-after': '30' } });
    expect(await failure(createArenaSource({ url: `${server.url}/busy` }).load(signal()))).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 30_000,
    });
  });

  it('reads a file: URL', async () => {
    const url = pathToFileURL(resolve(FIXTURES, 'arena-leaderboard.csv')).href;
    expect(await createArenaSource({ url }).load(signal())).toHaveLength(9);
  });
});
