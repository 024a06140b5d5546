import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Collector } from '../../../src/cluster/collector.js';
import { isClusterMessage } from '../../../src/cluster/messages.js';
import { Supervisor } from '../../../src/cluster/supervisor.js';

/**
 * A worker as small as the supervisor sees one: `serve` says it serves and exits with the code
 * the test sends it; `fail <code>` exits before it serves, as one with a config error does;
 * `hold` serves and never ends its drain; `bare` serves and dies by SIGTERM itself, as one that
 * has not yet set its handlers does.
 */
const WORKER = `
const [mode, code] = process.argv.slice(2);
if (mode === 'fail') process.exit(Number(code));
process.on('message', (m) => { if (typeof m?.die === 'number') process.exit(m.die); });
if (mode === 'hold') process.on('SIGTERM', () => undefined);
else if (mode !== 'bare') process.on('SIGTERM', () => process.exit(0));
process.send({ llmo: 'ready', port: 1 });
`;

const dir = mkdtempSync(join(tmpdir(), 'llmo-supervisor-'));
const script = join(dir, 'worker.cjs');

beforeAll(() => writeFileSync(script, WORKER));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  supervisor: Supervisor;
  lines: Record<string, unknown>[];
  up: Promise<void>;
  /** Called for every worker that says it serves, after the supervisor knows. */
  onReady: (worker: Worker) => void;
}

let current: Run | undefined;

function run(workers: number, args: string[]): Run {
  cluster.setupPrimary({ exec: script, args, execArgv: [], silent: true });
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  let markUp: () => void = () => undefined;
  const up = new Promise<void>((resolve) => {
    markUp = resolve;
  });
  const r: Run = {
    lines,
    up,
    onReady: () => undefined,
    supervisor: new Supervisor({
      workers,
      log: pino({ level: 'info' }, stream),
      events: {
        up: () => markUp(),
        message: (worker, message) => {
          if (!isClusterMessage(message) || message.llmo !== 'ready') return;
          r.supervisor.markReady(worker, message.port);
          r.onReady(worker);
        },
        exited: () => undefined,
      },
    }),
  };
  current = r;
  r.supervisor.start();
  return r;
}

/** `done`'s code, or 'running' if the supervisor has not finished within `ms`. */
function outcome(supervisor: Supervisor, ms: number): Promise<number | 'running'> {
  return Promise.race([supervisor.done, new Promise<'running'>((r) => setTimeout(() => r('running'), ms))]);
}

function messages(lines: Record<string, unknown>[], msg: string): Record<string, unknown>[] {
  return lines.filter((l) => l.msg === msg);
}

afterEach(async () => {
  // A supervisor that did not finish, and a test's own listeners on the one `cluster`, must not see the next test's exits.
  if (current && !current.supervisor.isStopping) current.supervisor.stopAll(0);
  if (current) await outcome(current.supervisor, 3_000);
  current = undefined;
  cluster.removeAllListeners('exit');
});

describe('Supervisor (WORKERS > 1)', () => {
  it('replaces a worker that dies after start-up and keeps running', async () => {
    const r = run(2, ['serve']);
    await r.up;
    const replaced = new Promise<Worker>((resolve) => {
      r.onReady = resolve;
    });
    const [victim] = r.supervisor.serving();
    victim?.send({ die: 1 });
    const replacement = await replaced;
    expect(replacement.id).not.toBe(victim?.id);
    expect(await outcome(r.supervisor, 100)).toBe('running');
    expect(r.supervisor.serving()).toHaveLength(2);
    expect(messages(r.lines, 'a worker died; starting another')).toMatchObject([{ worker: victim?.id, code: 1, served: true }]);
    expect(messages(r.lines, 'replacement worker serving')).toMatchObject([{ worker: replacement.id }]);

    r.supervisor.stopAll(0);
    expect(await r.supervisor.done).toBe(0);
  });

  it('stops the service with 1 on the sixth death within a minute, the other workers drained', async () => {
    const r = run(2, ['serve']);
    await r.up;
    const [steady, first] = r.supervisor.serving();
    // Every replacement dies as soon as it serves, as one with a fault it meets at once does.
    r.onReady = (w) => w.send({ die: 1 });
    first?.send({ die: 1 });

    expect(await outcome(r.supervisor, 5_000)).toBe(1);
    expect(messages(r.lines, 'a worker died; starting another')).toHaveLength(5);
    expect(messages(r.lines, 'workers keep dying; stopping')).toMatchObject([{ code: 1 }]);
    expect(steady?.isDead()).toBe(true);
    expect(Object.keys(cluster.workers ?? {})).toEqual([]);
  });

  it('counts only the deaths of the last minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const r = run(2, ['serve']);
      await r.up;
      const [, first] = r.supervisor.serving();
      r.onReady = (w) => {
        // Five deaths, then a minute passes before the next: those five no longer count.
        if (messages(r.lines, 'a worker died; starting another').length === 5) vi.setSystemTime(Date.now() + 61_000);
        w.send({ die: 1 });
      };
      first?.send({ die: 1 });

      expect(await outcome(r.supervisor, 8_000)).toBe(1);
      expect(messages(r.lines, 'a worker died; starting another')).toHaveLength(10);
      expect(messages(r.lines, 'workers keep dying; stopping')).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stops with the code of replacements that cannot start once they reach the cap (2 for a config error)', async () => {
    const r = run(2, ['serve']);
    await r.up;
    // The config changed on disk since the first workers started: every replacement finds an error in it.
    cluster.setupPrimary({ exec: script, args: ['fail', '2'], execArgv: [], silent: true });
    const [steady, first] = r.supervisor.serving();
    first?.send({ die: 1 });

    expect(await outcome(r.supervisor, 8_000)).toBe(2);
    expect(messages(r.lines, 'a worker died; starting another')).toHaveLength(5);
    expect(messages(r.lines, 'workers keep dying; stopping')).toMatchObject([{ code: 2, served: false }]);
    expect(steady?.isDead()).toBe(true);
  });

  it('stops with 1 when a worker is killed by a signal during a clean stop, as for a worker that exits non-zero', async () => {
    const r = run(2, ['hold']);
    await r.up;
    const workers = r.supervisor.serving();
    r.supervisor.stopAll(0);
    // A drain that hangs, ended by a service manager's SIGKILL, or a crash while draining.
    for (const w of workers) w.process.kill('SIGKILL');
    expect(await outcome(r.supervisor, 5_000)).toBe(1);
  });

  it('stops with 0 when the workers end by the SIGTERM of the stop itself', async () => {
    const r = run(2, ['bare']);
    await r.up;
    r.supervisor.stopAll(0);
    expect(await outcome(r.supervisor, 5_000)).toBe(0);
  });

  it('stops listening to the cluster once it is done', async () => {
    const before = cluster.listenerCount('exit');
    const r = run(1, ['serve']);
    await r.up;
    expect(cluster.listenerCount('exit')).toBe(before + 1);
    r.supervisor.stopAll(0);
    expect(await r.supervisor.done).toBe(0);
    expect(cluster.listenerCount('exit')).toBe(before);
  });

  it('stops with the code of a first worker that cannot start, forking no replacement', async () => {
    const forked: Worker[] = [];
    cluster.on('fork', (w) => forked.push(w));
    try {
      const r = run(2, ['fail', '2']);
      expect(await outcome(r.supervisor, 5_000)).toBe(2);
      expect(forked).toHaveLength(2);
      expect(messages(r.lines, 'a worker failed to start; stopping')).toMatchObject([{ code: 2 }]);
      expect(messages(r.lines, 'a worker died; starting another')).toEqual([]);
    } finally {
      cluster.removeAllListeners('fork');
    }
  });
});

describe('the primary asking workers for their counters', () => {
  it('survives asking a worker that has just died, before it learnt of the death, and the round finishes without it', async () => {
    const r = run(2, ['serve']);
    await r.up;
    const [steady, victim] = r.supervisor.serving();
    const collector = new Collector(() => r.supervisor.serving(), 1_000);
    cluster.on('exit', (w) => collector.forget(w.id));
    victim?.process.kill('SIGKILL');
    // The worker is gone and its end of the channel closed, but this event loop has not run yet:
    // the worker still looks connected, and a message to it fails on the write (EPIPE).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    expect(victim?.isConnected()).toBe(true);
    const round = new Promise<number>((resolve) => collector.collect('stats', (_answers, missing) => resolve(missing)));
    // This small worker never answers: the round ends at its timeout, short of it alone.
    expect(await round).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(steady?.isConnected()).toBe(true);
  });
});
