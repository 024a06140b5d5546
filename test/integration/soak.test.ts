import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** The table row of one check: its measured value and its verdict. */
function row(out: string, check: string): { measured: string; result: string } | undefined {
  const line = out.split('\n').find((l) => l.startsWith(check));
  if (!line) return undefined;
  const cells = line.slice(check.length).trim().split(/\s+/);
  return { measured: cells[0] ?? '', result: cells.at(-1) ?? '' };
}

describe('npm run soak', () => {
  it('runs the mixed load for a few seconds and prints its table, with nothing left open at the end', () => {
    // The gateway keeps its ledger in a file as by default, but not in ./data, which other test files' runs would share.
    const dir = mkdtempSync(join(tmpdir(), 'soak-ledger-'));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'scripts/soak.ts', '--seconds', '3', '--rate', '60', '--streams', '10', '--from-source'],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DATABASE_URL: `sqlite:${join(dir, 'ledger.db')}` } },
    );
    rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain('warm-up shortened');
    expect(row(out, 'RSS growth after the warm-up (%, mean to mean)')?.result).toMatch(/^(PASS|FAIL)$/);
    expect(Number(row(out, 'RSS mean, the first 1 s after the warm-up (MB)')?.measured)).toBeGreaterThan(0);
    for (const check of [
      'upstream requests open at the end',
      'gRPC calls in flight at the end (gateway metrics)',
      'gRPC streams open at the end (gateway metrics)',
    ]) {
      expect(row(out, check), check).toEqual({ measured: '0', result: 'PASS' });
    }
    // Every kind of call in the mix was sent, the faults and cancellations included.
    for (const call of [
      'Chat ',
      'StreamChat ',
      'Race ',
      'Fallback (primary fails)',
      'Batch (5 items)',
      'Chat, upstream 500',
      'Chat, cancelled by the client',
    ]) {
      expect(out, call).toContain(call);
    }
  }, 150_000);
});
