import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** deploy/healthcheck.mjs, the image's HEALTHCHECK, against a real server. */
const run = promisify(execFile);

async function healthcheck(target: string): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['deploy/healthcheck.mjs', target], { timeout: 10_000 });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stderr: e.stderr ?? '' };
  }
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe('deploy/healthcheck.mjs', () => {
  it('exits 0 while the server is SERVING, 1 once it says NOT_SERVING (a drain)', async () => {
    const target = `127.0.0.1:${h.app.port}`;
    expect(await healthcheck(target)).toEqual({ code: 0, stderr: '' });
    h.app.server.health.setAll('NOT_SERVING');
    expect(await healthcheck(target)).toEqual({ code: 1, stderr: 'unhealthy: not SERVING\n' });
    h.app.server.health.setAll('SERVING');
  });

  it('exits 1 naming the failure when nothing listens', async () => {
    const result = await healthcheck('127.0.0.1:1');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^unhealthy: /);
  });
});
