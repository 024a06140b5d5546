import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);

/**
 * Every tool docs/PERFORMANCE.md lists puts minutes of load on the machine: asked for --help it
 * must print its usage and stop, and an option it does not take must stop it before it starts.
 */
describe('the bench commands', () => {
  const tools = [
    ['bench/run.ts', 'npm run bench'],
    ['bench/ab.ts', '--scenario'],
    ['bench/http-profile.ts', '--floor'],
    ['bench/rate-probe.ts', '--env-a'],
    ['bench/profile.ts', '--paced'],
    ['bench/alloc-profile.ts', '--calls'],
    ['bench/transport.ts', '--concurrency'],
    ['bench/ledger-write.ts', '--batch'],
    ['bench/lib/cpuprofile.ts', '--top'],
    ['scripts/soak.ts', '--minutes'],
  ] as const;
  const tsx = (file: string, ...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, timeout: 15_000, killSignal: 'SIGKILL' });

  it.each(tools)('%s --help prints its usage and exits 0', async (file, option) => {
    const { stdout } = await tsx(file, '--help');
    expect(stdout).toContain(option);
  });

  it.each(tools)('%s refuses an option it does not take, with exit status 2', async (file, option) => {
    const failed = await tsx(file, '--no-such-option').then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(/^unknown option --no-such-option\n/);
    expect(failed?.stderr).toContain(option);
  });
});
