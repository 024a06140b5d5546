import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ended, type MainProcess, startMain } from '../helpers/main-process.js';

const DRAINING = 'shutting down: health NOT_SERVING, draining calls';

/** Waits until `count` lines say `msg` (a cluster's workers log theirs apart). */
async function logged(main: MainProcess, msg: string, count = 1): Promise<void> {
  for (let i = 0; i < 200 && main.lines.filter((l) => l['msg'] === msg).length < count; i++) await new Promise((r) => setTimeout(r, 50));
  expect(main.lines.filter((l) => l['msg'] === msg).length).toBeGreaterThanOrEqual(count);
}

/** How the process ended and how long after `since`, or 'alive' if it still runs `withinMs` later. */
async function endingWithin(main: MainProcess, since: number, withinMs: number): Promise<{ code: number | null; ms: number } | 'alive'> {
  const outcome = await Promise.race([ended(main.child), new Promise<'alive'>((r) => setTimeout(() => r('alive'), withinMs))]);
  return outcome === 'alive' ? outcome : { code: outcome[0], ms: Date.now() - since };
}

/** Whether `pid` still runs: a zombie (dead, not yet reaped by whoever inherited it) does not. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The processes of `pids` still running after up to a second: a SIGKILL takes a moment to land. */
async function survivors(pids: readonly number[]): Promise<number[]> {
  for (let i = 0; i < 20 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(alive);
}

function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
}

describe('a second signal while the gateway drains', () => {
  it('SIGINT (Ctrl-C twice) exits at once with 130; a second SIGTERM leaves the drain running', async () => {
    const main = await startMain({ LOG_LEVEL: 'info', DRAIN_DELAY_MS: '30000', SHUTDOWN_GRACE_MS: '30000' });
    try {
      main.child.kill('SIGTERM');
      await logged(main, DRAINING);
      main.child.kill('SIGTERM');
      expect(await endingWithin(main, Date.now(), 1_000)).toBe('alive');
      const interrupted = Date.now();
      main.child.kill('SIGINT');
      const outcome = await endingWithin(main, interrupted, 5_000);
      expect(outcome).toMatchObject({ code: 130 });
      expect(main.stderr.join('')).toContain('SIGINT while draining: exiting without waiting for the calls in flight');
    } finally {
      if (main.child.exitCode === null) main.child.kill('SIGKILL');
    }
  }, 30_000);
});

describe('one Ctrl-C that comes twice', () => {
  it('(from the terminal, and forwarded by npm start) drains as one SIGINT does', async () => {
    const main = await startMain({ LOG_LEVEL: 'info', DRAIN_DELAY_MS: '1500' });
    try {
      const interrupted = Date.now();
      main.child.kill('SIGINT');
      // npm's copy comes a moment later: sent at once, the kernel would merge the two.
      await new Promise((r) => setTimeout(r, 200));
      main.child.kill('SIGINT');
      const outcome = await endingWithin(main, interrupted, 15_000);
      expect(outcome).toMatchObject({ code: 0 });
      expect(outcome === 'alive' ? 0 : outcome.ms).toBeGreaterThanOrEqual(1_400);
      expect(main.lines.some((l) => l['msg'] === 'stopped')).toBe(true);
    } finally {
      if (main.child.exitCode === null) main.child.kill('SIGKILL');
    }
  }, 30_000);
});

describe('WORKERS=2: a second SIGINT to the primary while the workers drain', () => {
  it('ends every worker and the primary at once, with 130', async () => {
    const main = await startMain(
      { WORKERS: '2', DATABASE_URL: 'off', LOG_LEVEL: 'info', DRAIN_DELAY_MS: '30000', SHUTDOWN_GRACE_MS: '30000' },
      { ready: 'llm-orchestrator listening (cluster)' },
    );
    const workers = childrenOf(main.child.pid as number);
    try {
      main.child.kill('SIGINT');
      await logged(main, DRAINING, 2);
      // Pressed again, not the same Ctrl-C come twice.
      await new Promise((r) => setTimeout(r, 1_000));
      const interrupted = Date.now();
      main.child.kill('SIGINT');
      const outcome = await endingWithin(main, interrupted, 5_000);
      expect(outcome).toMatchObject({ code: 130 });
      expect(await survivors(workers)).toEqual([]);
      expect(main.stderr.join('')).toContain('SIGINT while draining: exiting without waiting for the calls in flight');
    } finally {
      if (main.child.exitCode === null) main.child.kill('SIGKILL');
      for (const pid of workers.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});

describe('WORKERS=2: a worker whose drain never ends', () => {
  it('is killed by the primary once the stop overruns DRAIN_DELAY_MS + SHUTDOWN_GRACE_MS + 5 s, which exits 1', async () => {
    const main = await startMain(
      { WORKERS: '2', DATABASE_URL: 'off', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '500' },
      { ready: 'llm-orchestrator listening (cluster)' },
    );
    const workers = childrenOf(main.child.pid as number);
    const [stuck] = workers;
    try {
      // A worker that does not run at all (an event loop blocked for good): its own watchdog cannot fire.
      process.kill(stuck as number, 'SIGSTOP');
      const signalled = Date.now();
      main.child.kill('SIGTERM');
      const outcome = await endingWithin(main, signalled, 15_000);
      expect(outcome).toMatchObject({ code: 1 });
      expect(outcome === 'alive' ? Number.POSITIVE_INFINITY : outcome.ms).toBeLessThan(500 + 5_000 + 1_500);
      expect(await survivors(workers)).toEqual([]);
    } finally {
      if (main.child.exitCode === null) main.child.kill('SIGKILL');
      for (const pid of workers.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});
