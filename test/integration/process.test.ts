import { spawn, execFile } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { createServer as createNetServer, Socket, type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthCheckResponse_ServingStatus } from '../../src/gen/grpc/health/v1/health.js';
import { callUnary, clientsFor, type Clients, collectStream, streamRequest, unaryError } from '../helpers/grpc-client.js';
import { Reason } from '../../src/domain/errors.js';
import { ended, exitCodeOf, MAIN, MAIN_ENV, type MainProcess, startMain, TSX } from '../helpers/main-process.js';

const run = promisify(execFile);
const BUF = 'node_modules/.bin/buf';

/** Runs `body` against a fresh server process with clients on it; kills what is left afterwards. */
async function withMain(
  env: Record<string, string>,
  body: (main: MainProcess, clients: Clients) => Promise<void>,
  options: { cwd?: string } = {},
): Promise<void> {
  const main = await startMain(env, options);
  const clients = clientsFor(main.port);
  try {
    await body(main, clients);
  } finally {
    clients.close();
    if (main.child.exitCode === null) main.child.kill('SIGKILL');
  }
}

async function bufCurl(port: number, path: string, body?: object, extra: string[] = []): Promise<string> {
  const args = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...extra];
  if (body) args.push('-d', JSON.stringify(body));
  args.push(`http://127.0.0.1:${port}${path}`);
  const { stdout } = await run(BUF, args, { timeout: 15_000 });
  return stdout;
}

describe('SIGTERM with stdout into a pipe whose reader went away', () => {
  it('drains and exits within the grace period instead of retrying the broken pipe forever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-fifo-'));
    const fifo = join(dir, 'stdout');
    try {
      await run('mkfifo', [fifo]);
      // The reader first (a FIFO opened for writing waits for one), non-blocking so it can go away at will.
      const readerFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writerFd = openSync(fifo, constants.O_WRONLY);
      const child = spawn(process.execPath, ['--import', TSX, MAIN], {
        env: { ...process.env, ...MAIN_ENV, LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '500' },
        stdio: ['ignore', writerFd, 'ignore'],
      });
      closeSync(writerFd);
      const reader = new Socket({ fd: readerFd, readable: true, writable: false });
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        reader.on('data', (chunk) => {
          seen += chunk.toString();
          if (seen.includes('llm-orchestrator listening')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      reader.destroy();
      await once(reader, 'close');
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      const startedStop = Date.now();
      child.kill('SIGTERM');
      const outcome = await Promise.race([exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 10_000))]);
      if (outcome === 'alive') child.kill('SIGKILL');
      expect(outcome).not.toBe('alive');
      expect(outcome === 'alive' ? undefined : outcome[0]).toBe(0);
      expect(Date.now() - startedStop).toBeLessThan(10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('npm start with no API key', () => {
  let main: MainProcess;
  beforeAll(async () => {
    main = await startMain({ LOG_LEVEL: 'info' });
  }, 30_000);
  afterAll(() => {
    if (main.child.exitCode === null) main.child.kill('SIGKILL');
  });

  it('says plainly that simulated models are served', () => {
    expect(main.logs.some((l) => l.includes('SIMULATED models'))).toBe(true);
  });

  it('lists every service through reflection', async () => {
    const out = await bufCurl(main.port, '', undefined, ['--list-services']);
    for (const name of [
      'orchestrator.v1.ChatService',
      'orchestrator.v1.ModelService',
      'orchestrator.v1.StatsService',
      'grpc.health.v1.Health',
    ]) {
      expect(out).toContain(name);
    }
  });

  it('answers the README buf curl calls', async () => {
    const chat = JSON.parse(await bufCurl(main.port, '/orchestrator.v1.ChatService/Chat', { prompt: 'hello' })) as Record<string, unknown>;
    expect(chat).toMatchObject({ model: 'gpt-4o', provider: 'simulator', simulated: true });
    expect(String(chat.content).length).toBeGreaterThan(0);

    const race = JSON.parse(
      await bufCurl(main.port, '/orchestrator.v1.ChatService/Race', { prompt: 'hi', models: ['gpt-4o', 'gpt-4o-mini'] }),
    ) as Record<string, unknown>;
    expect(race).toMatchObject({ model: 'gpt-4o-mini', simulated: true });

    const fallback = JSON.parse(
      await bufCurl(main.port, '/orchestrator.v1.ChatService/Fallback', { prompt: 'hi', model: 'gpt-4-turbo' }),
    ) as Record<string, unknown>;
    expect(fallback).toMatchObject({ modelUsed: 'gpt-4-turbo', simulated: true });

    const stream = await bufCurl(main.port, '/orchestrator.v1.ChatService/StreamChat', { prompt: 'Tell me a story', model: 'gpt-4o-mini' });
    const events = stream
      .trim()
      .split(/\n(?=\{)/)
      .map((chunk) => JSON.parse(chunk) as Record<string, unknown>);
    expect(Object.keys(events[0] ?? {})).toEqual(['started']);
    expect(events[0]?.started).toMatchObject({ provider: 'simulator', simulated: true });
    expect(Object.keys(events.at(-1) ?? {})).toEqual(['completed']);

    const models = JSON.parse(await bufCurl(main.port, '/orchestrator.v1.ModelService/ListModels', {})) as {
      models: { id: string; simulated?: boolean }[];
    };
    expect(models.models.find((m) => m.id === 'gpt-4o')?.simulated).toBe(true);

    const stats = JSON.parse(await bufCurl(main.port, '/orchestrator.v1.StatsService/GetStats', {})) as { totalRequests?: string };
    expect(Number(stats.totalRequests)).toBe(4);

    // The OpenAI-compatible door says so too.
    const listening = main.logs
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; httpPort?: number })
      .find((l) => l.msg === 'llm-orchestrator listening');
    const http = (await fetch(`http://127.0.0.1:${listening?.httpPort}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    }).then((r) => r.json())) as { x_orchestrator?: Record<string, unknown> };
    expect(http.x_orchestrator).toMatchObject({ provider: 'simulator', simulated: true });

    const health = JSON.parse(await bufCurl(main.port, '/grpc.health.v1.Health/Check', {})) as { status?: string };
    expect(health.status).toBe('SERVING');
  });

  it('exits 0 on SIGTERM', async () => {
    main.child.kill('SIGTERM');
    expect(await exitCodeOf(main)).toBe(0);
    expect(main.logs.join('\n')).toContain('shutting down');
  });
});

describe.each(['SIGTERM', 'SIGINT'] as const)('%s with a stream in flight', (signal) => {
  it('goes NOT_SERVING, refuses new calls, lets the stream finish, and exits 0', async () => {
    await withMain({ LOG_LEVEL: 'info', SIMULATOR_LATENCY_SCALE: '1', SHUTDOWN_GRACE_MS: '8000' }, async (main, clients) => {
      const call = clients.chat.streamChat(streamRequest({ model: 'gpt-4-turbo', prompt: 'a long answer please' }));
      const done = collectStream(call);
      await new Promise<void>((resolve) => call.once('data', () => resolve()));
      main.child.kill(signal);
      // Health goes NOT_SERVING in the same turn as this line is logged; a loaded machine may take a while to get there.
      await expect.poll(() => main.logs.some((l) => l.includes('shutting down')), { timeout: 10_000 }).toBe(true);
      const health = await callUnary(clients.health.check.bind(clients.health), { service: 'orchestrator.v1.ChatService' });
      expect(health.response.status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
      const refused = await unaryError(clients.chat.chat.bind(clients.chat), { model: 'gpt-4o-mini', prompt: 'late', messages: [] });
      expect(refused.code).toBe(grpc.status.UNAVAILABLE);
      const { status, messages } = await done;
      expect(status.code).toBe(grpc.status.OK);
      expect(messages.at(-1)?.event?.$case).toBe('completed');
      expect(await exitCodeOf(main)).toBe(0);
      expect(main.logs.some((l) => l.includes('shutting down') && l.includes(`"signal":"${signal}"`))).toBe(true);
    });
  }, 30_000);
});

describe('SIGTERM when the grace period runs out', () => {
  it('ends the stream still running with UNAVAILABLE (DRAINING) and the usage so far, and exits 0', async () => {
    // gpt-4-turbo at 35 tokens/s, slowed down 4x: even the shortest answer (12 tokens) takes
    // over a second, far longer than the 300 ms of grace.
    await withMain({ LOG_LEVEL: 'info', SIMULATOR_LATENCY_SCALE: '4', SHUTDOWN_GRACE_MS: '300' }, async (main, clients) => {
      const call = clients.chat.streamChat(streamRequest({ model: 'gpt-4-turbo', prompt: 'a long answer please' }));
      const done = collectStream(call);
      // The first delta: a token has been generated, so there is usage to report.
      await new Promise<void>((resolve) => {
        const onData = (m: { event?: { $case: string } }): void => {
          if (m.event?.$case !== 'delta') return;
          call.off('data', onData);
          resolve();
        };
        call.on('data', onData);
      });
      main.child.kill('SIGTERM');
      const { status, messages, error } = await done;
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(messages.some((m) => m.event?.$case === 'completed')).toBe(false);
      expect(error?.decoded.errorInfo?.reason).toBe(Reason.DRAINING);
      const usage = error?.decoded.errorInfo?.metadata ?? {};
      expect(Number(usage['completion_tokens'])).toBeGreaterThan(0);
      expect(Number(usage['prompt_tokens'])).toBeGreaterThan(0);
      expect(Number(usage['cost_usd'])).toBeGreaterThan(0);
      expect(usage['attempts']).toMatch(/^gpt-4-turbo:/);
      expect(await exitCodeOf(main)).toBe(0);
      expect(main.logs.join('\n')).toContain('grace period over');
    });
  }, 30_000);
});

describe('.env in the working directory', () => {
  it('is loaded, and a variable set in the real environment wins over it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-dotenv-'));
    // DEFAULT_TEMPERATURE=9 is invalid: if the file won over the environment, start-up would fail.
    // ENVIRONMENT as .env files set it: a field on every log line.
    writeFileSync(join(dir, '.env'), 'DEFAULT_MODEL=gpt-4o-mini\nDEFAULT_TEMPERATURE=9\nENVIRONMENT=production\n');
    try {
      await withMain(
        // No provider key here: simulated models in production only on purpose.
        { LOG_LEVEL: 'info', DEFAULT_TEMPERATURE: '0.5', SIMULATOR: 'on' },
        async (main, clients) => {
          const chat = await callUnary(clients.chat.chat.bind(clients.chat), { model: '', prompt: 'hello', messages: [] });
          expect(chat.response.model).toBe('gpt-4o-mini');
          const lines = main.logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { environment?: string });
          expect(lines.length).toBeGreaterThan(1);
          expect(lines.every((l) => l.environment === 'production')).toBe(true);
        },
        { cwd: dir },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('npm start with LOG_FILE and metrics', () => {
  it('writes the JSON lines to the log file too, serves /metrics, and flushes everything on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmo-logs-'));
    const main = await startMain({ LOG_LEVEL: 'info', LOG_FILE: join(dir, 'logs', 'app.log') });
    try {
      const listening = JSON.parse(main.logs.find((l) => l.includes('llm-orchestrator listening')) ?? '{}') as { metrics?: string };
      expect(listening.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      await bufCurl(main.port, '/orchestrator.v1.ChatService/Chat', { prompt: 'hello', model: 'gpt-4o-mini' });
      const metrics = await (await fetch(listening.metrics ?? '')).text();
      expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Chat"[^}]*grpc_code="OK",protocol="grpc"\} 1/);
      main.child.kill('SIGTERM');
      expect(await exitCodeOf(main)).toBe(0);
      const lines = readFileSync(join(dir, 'logs', 'app.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.msg === 'call' && l.method === '/orchestrator.v1.ChatService/Chat')).toMatchObject({
        model: 'gpt-4o-mini',
        provider: 'simulator',
      });
      expect(lines.at(-1)?.msg).toBe('stopped');
    } finally {
      if (main.child.exitCode === null) main.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('start-up with bad configuration', () => {
  it('prints one line per problem and exits non-zero', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'http', DEFAULT_TEMPERATURE: '9', LOG_LEVEL: 'chatty' },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = await ended(child);
    expect(code).toBe(2);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(stderr).toContain('config error: PORT');
    expect(stderr).toContain('config error: DEFAULT_TEMPERATURE');
    expect(stderr).toContain('config error: LOG_LEVEL');
  });
});

describe('start-up with HTTP_PORT in use', () => {
  it('exits 1 naming the setting once the gRPC port it had bound is closed, without waiting DRAIN_DELAY_MS', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      const child = spawn(process.execPath, ['--import', TSX, MAIN], {
        env: { ...process.env, ...MAIN_ENV, DATABASE_URL: 'off', HTTP_PORT: String(port), DRAIN_DELAY_MS: '600000' },
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.resume();
      const exited = ended(child);
      let timer: NodeJS.Timeout | undefined;
      const lingering = new Promise<'still running after 20 s'>((resolve) => {
        timer = setTimeout(resolve, 20_000, 'still running after 20 s');
      });
      const outcome = await Promise.race([exited, lingering]).finally(() => clearTimeout(timer));
      if (child.exitCode === null) child.kill('SIGKILL');
      expect(outcome).toEqual([1, null]);
      expect(stderr).toMatch(/failed to start: .*in use/);
      expect(stderr).toContain('HTTP_PORT');
    } finally {
      taken.close();
    }
  }, 60_000);
});

describe('start-up with a LOG_FILE that cannot be written', () => {
  it.each([
    ['a directory', (dir: string) => dir, 'EISDIR'],
    ['under a regular file', (dir: string) => join(dir, 'file', 'app.log'), 'EEXIST'],
  ])(
    'names LOG_FILE when it is %s, and exits 2 as any configuration problem',
    async (_what, pathIn, code) => {
      const dir = mkdtempSync(join(tmpdir(), 'llmo-logfile-'));
      writeFileSync(join(dir, 'file'), '');
      try {
        const path = pathIn(dir);
        const child = spawn(process.execPath, ['--import', TSX, MAIN], {
          env: { ...process.env, ...MAIN_ENV, DATABASE_URL: 'off', LOG_FILE: path },
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.stdout.resume();
        const [exit] = await ended(child);
        expect(stderr).toBe(`config error: LOG_FILE: cannot write ${path}: ${code}\n`);
        expect(exit).toBe(2);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    30_000,
  );
});

describe('a second start while a port is taken', () => {
  it.each([
    ['PORT', 'gRPC port', 'set PORT to a free port (0 picks one)'],
    ['HTTP_PORT', 'HTTP port', 'set HTTP_PORT to a free port (0 picks one) or HTTP_ENABLED=false'],
    ['SIMULATOR_PORT', 'simulator port', 'set SIMULATOR_PORT to a free port (0 picks one)'],
  ])(
    'names the port and the setting when %s is in use, and exits 1',
    async (setting, what, advice) => {
      const taken = createNetServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const { port } = taken.address() as AddressInfo;
      try {
        const child = spawn(process.execPath, ['--import', TSX, MAIN], {
          env: { ...process.env, ...MAIN_ENV, SIMULATOR_PORT: '0', DATABASE_URL: 'off', [setting]: String(port) },
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.stdout.resume();
        const [code] = await ended(child);
        expect(code).toBe(1);
        expect(stderr).toContain(`llm-orchestrator failed to start: ${what} 127.0.0.1:${port} is already in use (EADDRINUSE): ${advice}\n`);
      } finally {
        taken.close();
      }
    },
    30_000,
  );
});

describe('start-up with an address that is not this machine', () => {
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
  it.each([
    ['HOST alone, which the metrics endpoint binds first', { HOST: '192.0.2.1' }, 'HOST'],
    ['METRICS_HOST', { METRICS_HOST: '192.0.2.1' }, 'METRICS_HOST'],
  ])(
    'names the setting the address came from: %s',
    async (_what, env, setting) => {
      const child = spawn(process.execPath, ['--import', TSX, MAIN], { env: { ...process.env, ...MAIN_ENV, ...env } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.resume();
      const [code] = await ended(child);
      expect(code).toBe(1);
      expect(stderr).toContain(
        `llm-orchestrator failed to start: ${setting} 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL)\n`,
      );
    },
    30_000,
  );
});

describe('a deployment with no provider configured', () => {
  async function startWith(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const child = spawn(process.execPath, ['--import', TSX, MAIN], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        METRICS_PORT: '0',
        // Not the defaults (8080, ./data/orchestrator.db): another test may hold them at the same time.
        HTTP_PORT: '0',
        DATABASE_URL: 'off',
        OPENAI_API_KEY: '',
        SIMULATOR: '',
        LOG_LEVEL: 'info',
        ...env,
      },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('llm-orchestrator listening')) child.kill('SIGTERM');
    });
    const [code] = await ended(child);
    return { code, stderr, stdout };
  }

  it.each(['production', 'staging'])(
    'refuses to serve simulated answers with ENVIRONMENT=%s: exit 2 and what to set',
    async (environment) => {
      const { code, stderr, stdout } = await startWith({ ENVIRONMENT: environment });
      expect(code).toBe(2);
      expect(stderr).toContain(`config error: ENVIRONMENT=${environment} but no provider is configured`);
      expect(stderr).toContain('OPENAI_API_KEY');
      expect(stderr).toContain('SIMULATOR=on');
      expect(stdout).not.toContain('llm-orchestrator listening');
    },
    30_000,
  );

  it('serves simulated models there when SIMULATOR=on says so, and in development without asking', async () => {
    const envs: Record<string, string>[] = [{ ENVIRONMENT: 'production', SIMULATOR: 'on' }, { ENVIRONMENT: 'development' }];
    for (const env of envs) {
      const { code, stdout, stderr } = await startWith(env);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain('SIMULATED');
    }
  }, 60_000);
});
