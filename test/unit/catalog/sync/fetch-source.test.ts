import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOpenRouterSource } from '../../../../src/catalog/sync/openrouter.js';
import { createSyncRunner } from '../../../../src/catalog/sync/runner.js';

// A file on a network mount that stopped answering: stat never returns. A file that grows after
// it was checked: stat sees it as it was, 10 bytes.
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const stat: typeof fs.stat = (async (path: Parameters<typeof fs.stat>[0], ...rest: []) => {
    if (String(path).includes('hung-mount')) return new Promise(() => undefined);
    const info = await fs.stat(path, ...rest);
    if (String(path).includes('growing')) Object.defineProperty(info, 'size', { value: 10 });
    return info;
  }) as typeof fs.stat;
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

  it('fail a run whose file grew past max_body_bytes after its size was checked', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'catalog-file-')), 'growing.json');
    writeFileSync(file, `{"data":[${'{"id":"a/b"},'.repeat(20_000)}{"id":"a/c"}]}`);
    const run = (maxBytes: number) =>
      createSyncRunner({
        sources: [createOpenRouterSource({ url: pathToFileURL(file).href, timeoutMs: 1_000, maxBytes })],
        known: () => [],
      }).run('openrouter');
    const report = await run(1_000);
    expect(report).toMatchObject({ source: 'openrouter', ok: false });
    expect(report.error).toBe(`${file}: the answer is over the limit of 1000 bytes`);
    // Within the limit, the whole of it is read, however it grew.
    expect(await run(1_000_000)).toMatchObject({ ok: true, models: [{ externalId: 'a/b' }, { externalId: 'a/c' }] });
  });

  it('still read a regular file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'catalog-file-')), 'openrouter-models.json');
    writeFileSync(file, '{"data":[{"id":"openai/gpt-4o","pricing":{"prompt":"0.0000025","completion":"0.00001"}}]}');
    const report = await runnerFor(pathToFileURL(file).href, 1_000).run('openrouter');
    expect(report).toMatchObject({ ok: true, models: [{ externalId: 'openai/gpt-4o' }] });
  });
});
