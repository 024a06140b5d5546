import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localDay, openLogOutput, RotatingFileDestination } from '../../../src/telemetry/log-destination.js';
import { createLogger } from '../../../src/telemetry/logger.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logs-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Local-time dates, so file names do not depend on the machine's time zone. */
const at = (day: number, hour: number, minute = 0) => new Date(2025, 11, day, hour, minute);
const read = (name: string) => readFileSync(join(dir, name), 'utf8');
const files = () => readdirSync(dir).sort();

describe('RotatingFileDestination', () => {
  it('writes to app.log and rolls it to app-YYYY-MM-DD.log at local midnight', () => {
    let now = at(21, 23, 58);
    const file = new RotatingFileDestination({ path: join(dir, 'app.log'), rotate: 'daily', retentionDays: 0, now: () => now });
    file.write('{"msg":"evening"}\n');
    now = at(21, 23, 59);
    file.write('{"msg":"last minute"}\n');
    now = at(22, 0, 0);
    file.write('{"msg":"after midnight"}\n');
    file.flushSync();
    expect(files()).toEqual(['app-2025-12-21.log', 'app.log']);
    expect(read('app-2025-12-21.log')).toBe('{"msg":"evening"}\n{"msg":"last minute"}\n');
    expect(read('app.log')).toBe('{"msg":"after midnight"}\n');
    now = at(24, 9);
    file.write('{"msg":"two days later"}\n');
    file.close();
    expect(files()).toEqual(['app-2025-12-21.log', 'app-2025-12-22.log', 'app.log']);
    expect(read('app-2025-12-22.log')).toBe('{"msg":"after midnight"}\n');
    expect(read('app.log')).toBe('{"msg":"two days later"}\n');
  });

  it('batches lines and writes them on the next turn of the event loop', async () => {
    const file = new RotatingFileDestination({ path: join(dir, 'app.log'), rotate: 'daily', retentionDays: 0, now: () => at(21, 12) });
    file.write('a\n');
    file.write('b\n');
    expect(read('app.log')).toBe('');
    await new Promise((resolve) => setImmediate(resolve));
    expect(read('app.log')).toBe('a\nb\n');
    file.close();
  });

  it('deletes rotated files older than the retention, and never the active file', () => {
    for (const day of ['2025-12-01', '2025-12-17', '2025-12-18', '2025-12-19', '2025-12-20'])
      writeFileSync(join(dir, `app-${day}.log`), 'old\n');
    writeFileSync(join(dir, 'app-2025-12-17.1.log'), 'old\n');
    writeFileSync(join(dir, 'other-2025-12-01.log'), 'not ours\n');
    let now = at(21, 23);
    const file = new RotatingFileDestination({ path: join(dir, 'app.log'), rotate: 'daily', retentionDays: 3, now: () => now });
    // Opening prunes too: today is the 21st, so the 18th and later stay.
    expect(files()).toEqual(['app-2025-12-18.log', 'app-2025-12-19.log', 'app-2025-12-20.log', 'app.log', 'other-2025-12-01.log']);
    file.write('x\n');
    now = at(22, 0, 1);
    file.write('y\n');
    file.close();
    expect(files()).toEqual(['app-2025-12-19.log', 'app-2025-12-20.log', 'app-2025-12-21.log', 'app.log', 'other-2025-12-01.log']);
  });

  it("rolls a previous run's file by its modification day, without overwriting a rotated file of that day", () => {
    writeFileSync(join(dir, 'app-2025-12-20.log'), 'rotated earlier\n');
    writeFileSync(join(dir, 'app.log'), 'left by the last run\n');
    const written = at(20, 18);
    utimesSync(join(dir, 'app.log'), written, written);
    const file = new RotatingFileDestination({ path: join(dir, 'app.log'), rotate: 'daily', retentionDays: 0, now: () => at(21, 8) });
    file.write('new run\n');
    file.close();
    expect(read('app-2025-12-20.log')).toBe('rotated earlier\n');
    expect(read('app-2025-12-20.1.log')).toBe('left by the last run\n');
    expect(read('app.log')).toBe('new run\n');
  });

  it('appends to a file written earlier the same day, and never rotates with LOG_ROTATE=off', () => {
    writeFileSync(join(dir, 'app.log'), 'earlier today\n');
    let now = new Date();
    const file = new RotatingFileDestination({ path: join(dir, 'nested', 'app.log'), rotate: 'off', retentionDays: 1, now: () => now });
    file.write('one\n');
    now = new Date(now.getTime() + 3 * 86_400_000);
    file.write('two\n');
    file.close();
    expect(readdirSync(join(dir, 'nested'))).toEqual(['app.log']);
    expect(read('nested/app.log')).toBe('one\ntwo\n');
    const same = new RotatingFileDestination({ path: join(dir, 'app.log'), rotate: 'daily', retentionDays: 0 });
    same.write('later today\n');
    same.close();
    expect(read('app.log')).toBe('earlier today\nlater today\n');
  });

  it('drops the lines a full disk refuses, counted, instead of throwing into the caller or the event loop', async () => {
    // /dev/full refuses every write with ENOSPC, as a full disk does.
    const file = new RotatingFileDestination({ path: '/dev/full', rotate: 'off', retentionDays: 0 });
    const crashes: unknown[] = [];
    const onUncaught = (err: unknown): void => {
      crashes.push(err);
    };
    process.prependListener('uncaughtException', onUncaught);
    try {
      file.write('{"msg":"one"}\n{"msg":"two"}\n');
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(() => file.write(`${'x'.repeat(70 * 1024)}\n`)).not.toThrow();
      expect(() => file.flushSync()).not.toThrow();
      expect(crashes).toEqual([]);
      expect(file.dropped).toBe(3);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      file.close();
    }
  });

  it('rolls over at midnight into a log directory removed while it ran, without throwing into the caller', () => {
    let now = at(21, 23, 59);
    const logs = join(dir, 'logs');
    const file = new RotatingFileDestination({ path: join(logs, 'app.log'), rotate: 'daily', retentionDays: 0, now: () => now });
    file.write('{"msg":"evening"}\n');
    file.flushSync();
    rmSync(logs, { recursive: true });
    now = at(22, 0, 1);
    expect(() => file.write('{"msg":"after midnight"}\n')).not.toThrow();
    expect(() => file.write('{"msg":"and after"}\n')).not.toThrow();
    file.close();
    expect(readFileSync(join(logs, 'app.log'), 'utf8')).toBe('{"msg":"after midnight"}\n{"msg":"and after"}\n');
  });

  it('formats local days', () => {
    expect(localDay(at(1, 0))).toBe('2025-12-01');
    expect(localDay(new Date(2026, 0, 9, 23, 59))).toBe('2026-01-09');
  });
});

describe('openLogOutput with pino', () => {
  it('sends every line to stdout and to the rotating file; flushSync empties the file buffer', () => {
    const stdout: string[] = [];
    let now = at(21, 23, 59);
    const output = openLogOutput({
      file: { path: join(dir, 'app.log'), rotate: 'daily', retentionDays: 0 },
      stdout: new Writable({
        write(chunk: Buffer, _encoding, done) {
          stdout.push(chunk.toString());
          done();
        },
      }),
      now: () => now,
    });
    const log = createLogger('info', output.stream);
    log.info({ model: 'gpt-4o' }, 'call');
    now = at(22, 0, 0);
    log.info('after midnight');
    log.debug('below the level');
    output.stream.flushSync();
    expect(stdout).toHaveLength(2);
    const rotated = JSON.parse(read('app-2025-12-21.log')) as Record<string, unknown>;
    expect(rotated).toMatchObject({ msg: 'call', model: 'gpt-4o', level: 'info', service: 'llm-orchestrator' });
    expect(read('app.log')).toContain('"msg":"after midnight"');
    output.close();
  });
});

describe('stdout shared by several processes (the primary and workers of WORKERS > 1)', () => {
  it('keeps every line whole when the reader falls behind and the pipe fills', async () => {
    const script = join(dir, 'writer.mts');
    writeFileSync(
      script,
      `import { openLogOutput } from '${process.cwd()}/src/telemetry/log-destination.ts';
const output = openLogOutput({ shared: true });
const pad = 'x'.repeat(600);
let n = 0;
const burst = () => {
  for (let i = 0; i < 100; i++, n++) output.stream.write(JSON.stringify({ writer: process.pid, n, pad }) + '\\n');
  if (n < 3000) setTimeout(burst, 1);
  else setTimeout(() => { output.stream.flushSync(); process.exit(0); }, 3000);
};
burst();
`,
    );
    const writer = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)}`;
    // One pipe for both writers, as a cluster's workers inherit the primary's stdout.
    const child = spawn('sh', ['-c', `${writer} & ${writer} & wait`], { cwd: process.cwd() });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A log collector that stalls: both writers find the pipe full.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1_500));
    child.stdout.resume();
    // Not 'exit': the last lines can still be in the pipe then.
    await once(child, 'close');
    const lines = Buffer.concat(chunks)
      .toString()
      .split('\n')
      .filter((l) => l !== '');
    const broken = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken.map((l) => l.slice(0, 120))).toEqual([]);
    expect(lines).toHaveLength(6000);
  }, 30_000);
});
