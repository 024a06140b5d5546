import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { accessFile } from '../helpers/access-file.js';
import { ended, MAIN, MAIN_ENV, TSX } from '../helpers/main-process.js';

/** src/main.ts as `npm start` runs it, on free ports with the simulator: signals and exit codes. */
const BASE = { ...MAIN_ENV, DATABASE_URL: 'off', SIMULATOR_LATENCY_SCALE: '0', LOG_LEVEL: 'info' };

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', TSX, MAIN], { env: { ...process.env, ...BASE, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exit = ended(child);
  /** Resolves with the start-up line once it is written, or undefined if the process ends first. */
  const listening = async (msg: RegExp): Promise<string | undefined> => {
    for (let i = 0; i < 300 && child.exitCode === null && child.signalCode === null; i++) {
      const line = out.split('\n').find((l) => msg.test(l));
      if (line) return line;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  };
  return { child, exit, listening, out: () => out, err: () => err };
}

/**
 * Resolves once process `pid` listens for SIGHUP (bit 0 of SigCgt): the entry's first act, before
 * it loads the program. How long that takes depends on the machine's load, not on the gateway.
 */
async function listensForSighup(pid: number): Promise<void> {
  const caught = (): bigint => BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0'}`);
  for (const until = Date.now() + 20_000; (caught() & 1n) === 0n && Date.now() < until; ) await new Promise((r) => setTimeout(r, 25));
}

describe('a SIGHUP while the gateway starts', () => {
  // A Redis that does not answer holds start-up for 3 s (the gateway then serves without it):
  // a window to send the signal in, after the entry listens for it and before the gateway serves.
  const SLOW_START = { REDIS_URL: 'redis://127.0.0.1:1', CONFIG_FILE: accessFile('') };

  it('is kept for when it serves, not the end of the process (one process)', async () => {
    const p = start(SLOW_START);
    await listensForSighup(p.child.pid!);
    p.child.kill('SIGHUP');
    expect(await p.listening(/"msg":"llm-orchestrator listening"/)).toBeDefined();
    // And it was not lost: the config file's keys were read again once the gateway served.
    expect(p.out()).toContain('API keys reloaded from the config file');
    p.child.kill('SIGTERM');
    expect((await p.exit)[0]).toBe(0);
  }, 40_000);

  it('reaches workers once they serve, and stops none of them (WORKERS=2)', async () => {
    const p = start({ ...SLOW_START, WORKERS: '2' });
    await listensForSighup(p.child.pid!);
    p.child.kill('SIGHUP');
    expect(await p.listening(/"msg":"llm-orchestrator listening \(cluster\)"/)).toBeDefined();
    // The primary took it: workers that serve reload, those still starting once they serve, and
    // those not yet started read the file as they start.
    expect(p.out()).toContain('SIGHUP: every worker reloads the config file');
    p.child.kill('SIGTERM');
    expect((await p.exit)[0]).toBe(0);
  }, 40_000);
});

describe('a SIGHUP without a config file', () => {
  // Nothing to reload, but the operator who sent it learns that it came.
  it('says there is no config file to reload', async () => {
    const p = start({ CONFIG_FILE: '' });
    expect(await p.listening(/"msg":"llm-orchestrator listening"/)).toBeDefined();
    p.child.kill('SIGHUP');
    const line = await p.listening(/no config file to reload/);
    p.child.kill('SIGTERM');
    expect((await p.exit)[0]).toBe(0);
    expect(JSON.parse(line ?? '{}')).toMatchObject({ level: 'info', msg: 'SIGHUP: no config file to reload (CONFIG_FILE is not set)' });
  }, 40_000);
});

describe('a SIGTERM while the gateway starts, as PID 1 of a container', () => {
  // PID 1 gets only the signals it listens for: one that comes before the gateway listens is lost.
  // unshare (util-linux) starts it as PID 1 of its own PID namespace, inside a user namespace so no root is needed.
  it('ends the process instead of being lost while it serves on', async () => {
    const child = spawn('unshare', ['--user', '--map-root-user', '--pid', '--fork', process.execPath, '--import', TSX, MAIN], {
      env: { ...process.env, ...BASE, REDIS_URL: 'redis://127.0.0.1:1', CONFIG_FILE: accessFile('') },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      // The gateway itself: the one child of unshare, PID 1 in its namespace.
      let pid: number | undefined;
      for (let i = 0; i < 100 && !pid; i++) {
        pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined;
        if (!pid) await new Promise((r) => setTimeout(r, 50));
      }
      // Once the entry listens for signals, and within the 3 s an unanswering Redis then holds start-up.
      await listensForSighup(pid!);
      await new Promise((r) => setTimeout(r, 200));
      expect(out).not.toContain('"msg":"llm-orchestrator listening"');
      process.kill(pid!, 'SIGTERM');
      const ended = await Promise.race([exit, new Promise((r) => setTimeout(() => r('still running'), 8_000))]);
      expect(ended).toEqual([0, null]);
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);
});

describe('WORKERS=2 with a configuration error each worker finds', () => {
  it('exits 2, the workers code, however their exits interleave', async () => {
    for (let i = 0; i < 3; i++) {
      // ENVIRONMENT=production with no provider: found by startApp, so by each worker.
      const p = start({ WORKERS: '2', ENVIRONMENT: 'production' });
      const [code] = await p.exit;
      expect(p.err()).toContain('config error: ENVIRONMENT=production but no provider is configured');
      expect(code).toBe(2);
    }
  }, 90_000);
});

describe('WORKERS=2 with SIMULATOR_PORT pinned', () => {
  it('is a configuration error saying why (each worker runs its own simulator), not a port in use', async () => {
    const p = start({ WORKERS: '2', SIMULATOR_PORT: '50299' });
    const [code] = await p.exit;
    expect(p.err()).toContain(
      'config error: SIMULATOR_PORT: 2 workers would each start a simulator on port 50299; with WORKERS > 1 leave it unset (0)',
    );
    expect(code).toBe(2);
    // With a real provider the simulator does not run, so a pinned port is no problem.
    const served = start({ WORKERS: '2', SIMULATOR_PORT: '50299', OPENAI_API_KEY: 'sk-test' });
    expect(await served.listening(/listening \(cluster\)/)).toBeDefined();
    served.child.kill('SIGTERM');
    expect((await served.exit)[0]).toBe(0);
  }, 60_000);
});

describe('the start-up line', () => {
  it('shows the OTLP collector URL with its password masked', async () => {
    const p = start({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:s3cret-pw@127.0.0.1:4318' });
    const line = await p.listening(/"msg":"llm-orchestrator listening"/);
    p.child.kill('SIGTERM');
    await p.exit;
    expect(line).toContain('http://otel:***@127.0.0.1:4318');
    expect(p.out()).not.toContain('s3cret-pw');
  }, 40_000);
});
