import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOpenRouterSource } from '../../../../src/catalog/sync/openrouter.js';
import { createSyncRunner } from '../../../../src/catalog/sync/runner.js';

// A file on a network mount that stopped answering: stat never returns.
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const stat: typeof fs.stat = ((path: Parameters<typeof fs.stat>[0], ...rest: []) =>
    String(path).includes('hung-mount') ? new Promise(() => undefined) : fs.stat(path, ...rest)) as typeof fs.stat;
  return { ...fs, stat };
});

const fifos: string[] = [];
afterEach(() => {
  // Lets a reader still blocked opening a FIFO go, so no thread of the pool stays held after the test.
  for (const fifo of fifos.splice(0)) {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // No reader: nothing is held.
    }
  }
});

function runnerFor(url: string, timeoutMs: number) {
  return createSyncRunner({ sources: [createOpenRouterSource({ url, timeoutMs })], known: () => [] });
}

describe('file: catalog sources', () => {
  it('fail a run on a FIFO that nobody writes, naming the file, within the time limit', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'catalog-fifo-')), 'openrouter-models.json');
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    const started = Date.now();
    const report = await runnerFor(pathToFileURL(fifo).href, 300).run('openrouter');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(report).toMatchObject({ source: 'openrouter', ok: false });
    expect(report.error).toContain(fifo);
    expect(report.error).toMatch(/not a regular file/);
  });

  it('fail a run whose file does not answer (a hung network mount) after the time limit, naming the file', async () => {
    const started = Date.now();
    const report = await runnerFor('file:///mnt/hung-mount/openrouter-models.json', 200).run('openrouter');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(report).toMatchObject({ source: 'openrouter', ok: false });
    expect(report.error).toBe('/mnt/hung-mount/openrouter-models.json did not answer within 200 ms');
  });

  it('fail a later run at once while the read of an earlier one has not returned, so a hung mount holds one thread of the pool, not one per run', async () => {
    const url = 'file:///mnt/hung-mount/arena.json';
    expect((await runnerFor(url, 100).run('openrouter')).error).toMatch(/did not answer within 100 ms/);
    const started = Date.now();
    const report = await runnerFor(url, 5_000).run('openrouter');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(report.error).toBe('/mnt/hung-mount/arena.json: an earlier read of it has not returned yet');
  });

  it('stop reading a file when the run is cancelled', async () => {
    const controller = new AbortController();
    const loading = createOpenRouterSource({ url: 'file:///mnt/hung-mount/cancelled.json' }).load(controller.signal);
    controller.abort();
    await expect(loading).rejects.toThrow('/mnt/hung-mount/cancelled.json: the run was cancelled');
  });

  it('still read a regular file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'catalog-file-')), 'openrouter-models.json');
    writeFileSync(file, '{"data":[{"id":"openai/gpt-4o","pricing":{"prompt":"0.0000025","completion":"0.00001"}}]}');
    const report = await runnerFor(pathToFileURL(file).href, 1_000).run('openrouter');
    expect(report).toMatchObject({ ok: true, models: [{ externalId: 'openai/gpt-4o' }] });
  });
});
