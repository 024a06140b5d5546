import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../bench/fleet.js';
import { freePort } from '../../bench/lib/proc.js';

const ROOT = join(import.meta.dirname, '../..');

/** The environment a running process was started with (Linux). */
function environOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/**
 * Benchmarks compare runs with each other: a gateway the bench starts writes its ledger to a new
 * file that is gone when it stops, not to the checkout's ./data/orchestrator.db, which grew by
 * every run before it (hundreds of MB) and was left behind.
 */
describe('a gateway the bench starts', () => {
  it('keeps its ledger in a new SQLite file of its own and removes it when it stops', async () => {
    // No upstream answers on this port; the gateway starts all the same (it calls none here).
    const gateway = await startGateway(ROOT, await freePort(), 'warn', ['--import', 'tsx'], {}, 'src/main.ts');
    let ledgerFile: string | undefined;
    try {
      const url = environOf(gateway.pid).get('DATABASE_URL') ?? '';
      expect(url).toMatch(/^sqlite:\/.+\/bench-ledger-[^/]+\/orchestrator\.db$/);
      ledgerFile = url.slice('sqlite:'.length);
      expect(existsSync(ledgerFile)).toBe(true);
    } finally {
      await gateway.stop();
    }
    expect(existsSync(dirname(ledgerFile))).toBe(false);
  }, 60_000);

  it('uses the DATABASE_URL it is given instead', async () => {
    const gateway = await startGateway(ROOT, await freePort(), 'warn', ['--import', 'tsx'], { DATABASE_URL: 'off' }, 'src/main.ts');
    try {
      expect(environOf(gateway.pid).get('DATABASE_URL')).toBe('off');
    } finally {
      await gateway.stop();
    }
  }, 60_000);
});
