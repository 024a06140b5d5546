import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessFile } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeCertificates } from '../helpers/tls.js';

/**
 * examples/python/client.py against the real server (the simulator upstream behind the "openai"
 * provider). Debian's /usr/bin/python3 is the interpreter that sees python3-grpcio; the
 * `python3` first on PATH may be another one without grpc.
 */
const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const CLIENT = 'examples/python/client.py';
const APT_LINE = 'apt-get install -y python3-grpcio protobuf-compiler protobuf-compiler-grpc';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the client without blocking the event loop (the server runs in this process). */
async function client(args: string[], at = address): Promise<Result> {
  try {
    const { stdout, stderr } = await run(PYTHON, [CLIENT, at, ...args], { timeout: 8_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The value of `label: value` lines. */
function field(stdout: string, label: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label}: `));
  return line?.slice(label.length + 2);
}

let harness: Harness;
let address: string;
/** Set when /usr/bin/python3 has no grpc: every test then fails with it (none is skipped). */
let missingPython: Error | undefined;

/** Fails the calling test, with what to install, when the Python gRPC stack is missing. */
function requirePython(): void {
  if (missingPython) throw missingPython;
}

beforeAll(async () => {
  try {
    await run(PYTHON, ['-c', 'import grpc, google.protobuf'], { timeout: 5_000 });
  } catch (err) {
    const why = err instanceof Error ? err.message.trim().split('\n').at(-1) : String(err);
    missingPython = new Error(`${PYTHON} cannot import grpc (${why}). Install Debian's gRPC stack: ${APT_LINE}`);
  }
  // Slow enough that the race winner and the token pacing are certain, fast enough for the suite.
  harness = await startHarness({ latencyScale: 0.2 });
  address = `127.0.0.1:${harness.app.port}`;
});

afterAll(async () => {
  await harness?.close();
});

describe('the Python example client', () => {
  it('has stubs that match proto/ (npm run generate regenerates them)', async () => {
    requirePython();
    const out = await mkdtemp(join(tmpdir(), 'llmo-py-gen-'));
    try {
      try {
        await run('bash', ['clients/python/generate.sh', join(out, 'package')], { timeout: 8_000 });
        await run('bash', ['examples/python/generate.sh', join(out, 'gen')], { timeout: 8_000 });
      } catch (err) {
        throw new Error(`generate.sh failed (needs: ${APT_LINE}): ${String((err as { stderr?: string }).stderr ?? err)}`);
      }
      for (const [committed, fresh] of [
        ['clients/python/src', join(out, 'package', 'src')],
        ['examples/python/gen', join(out, 'gen')],
      ] as const) {
        const diff = await run('diff', ['-r', '-x', '__pycache__', committed, fresh]).then(
          () => '',
          (err: { stdout?: string }) => err.stdout ?? 'diff failed',
        );
        expect(diff, `${committed} is stale: run npm run generate`).toBe('');
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('clients/python installs with pip, with its type stubs, and the client runs on the installed package', async () => {
    requirePython();
    const work = await mkdtemp(join(tmpdir(), 'llmo-py-pkg-'));
    try {
      // A copy: an in-tree build would leave build/ and egg-info next to the committed stubs.
      await cp('clients/python', join(work, 'src'), { recursive: true });
      const target = join(work, 'site');
      await run(
        PYTHON,
        ['-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation', '--no-index', '--target', target, join(work, 'src')],
        {
          timeout: 120_000,
        },
      );
      const { stdout: where } = await run(PYTHON, ['-c', 'import orchestrator.v1.chat_pb2 as m; print(m.__file__)'], {
        env: { ...process.env, PYTHONPATH: `${target}:${join(process.cwd(), 'examples/python/gen')}` },
      });
      expect(where.trim()).toBe(join(target, 'orchestrator', 'v1', 'chat_pb2.py'));
      for (const file of ['chat_pb2.pyi', 'py.typed', 'chat_pb2_grpc.py']) {
        await expect(stat(join(target, 'orchestrator', 'v1', file))).resolves.toBeTruthy();
      }
      const { stdout } = await run(PYTHON, [CLIENT, address, 'chat', 'hello', '--model', 'gpt-4o-mini'], {
        timeout: 8_000,
        env: { ...process.env, LLMO_PY_PATH: target },
      });
      expect(field(stdout, 'model')).toBe('gpt-4o-mini (openai)');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 150_000);

  it("examples/README.md's way to use the stubs in your own code without installing them imports them", async () => {
    requirePython();
    const readme = await readFile('examples/README.md', 'utf8');
    const command = /^PYTHONPATH=\S+ \/usr\/bin\/python3 -c .*$/m.exec(readme)?.[0];
    expect(command, 'examples/README.md shows the PYTHONPATH for the stubs').toBeDefined();
    const result = await run('bash', ['-c', command ?? 'false'], { timeout: 10_000 }).then(
      () => '',
      (err: { stderr?: string }) => err.stderr ?? 'failed',
    );
    expect(result).toBe('');
  });

  it("docs/clients/python.md's offline Debian install works with Debian's /usr/bin/python3", async () => {
    requirePython();
    const guide = await readFile('docs/clients/python.md', 'utf8');
    const block = /# Debian, offline[^\n]*\n([\s\S]*?)```/.exec(guide)?.[1] ?? '';
    const commands = block.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('apt-get'));
    expect(commands.length).toBeGreaterThan(0);
    const work = await mkdtemp(join(tmpdir(), 'llmo-py-debian-'));
    try {
      // A copy of the package where the guide expects it: an in-tree build would leave build/ behind.
      await cp('clients/python', join(work, 'clients', 'python'), { recursive: true });
      for (const command of commands) {
        const failure = await run('bash', ['-c', command.replace(/\s+#.*$/, '')], { cwd: work, timeout: 120_000 }).then(
          () => '',
          (err: { stderr?: string }) => `${command}: ${err.stderr ?? err}`,
        );
        expect(failure).toBe('');
      }
      const python = /^(\S+)\/pip install/m.exec(commands.join('\n'))?.[1];
      const interpreter = python ? join(work, python, 'python') : PYTHON;
      const { stdout } = await run(interpreter, ['-c', 'import orchestrator.v1.chat_pb2 as m; print(m.__file__)'], {
        cwd: work,
        env: { ...process.env, PYTHONPATH: join(process.cwd(), 'examples/python/gen') },
      });
      expect(stdout).toContain(join('orchestrator', 'v1', 'chat_pb2.py'));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 150_000);

  it('chat: prints the answer, the model, usage and the request id it sent', async () => {
    requirePython();
    const result = await client(['chat', 'hello', '--model', 'gpt-4o-mini', '--request-id', 'py-chat-1']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'model')).toBe('gpt-4o-mini (openai)');
    expect(field(result.stdout, 'content')).toMatch(/^Simulated gpt-4o-mini answer/);
    expect(field(result.stdout, 'usage')).toMatch(/^prompt=[1-9]\d* completion=[1-9]\d* total=[1-9]\d*$/);
    expect(field(result.stdout, 'finish_reason')).toBe('FINISH_REASON_STOP');
    expect(field(result.stdout, 'attempt')).toMatch(/^gpt-4o-mini SUCCESS /);
    expect(field(result.stdout, 'request_id')).toBe('py-chat-1');
  });

  it('stream --json: started, then deltas, then completed; the deltas are the Chat answer', async () => {
    requirePython();
    const [chat, stream] = await Promise.all([
      client(['chat', 'Tell me a story', '--model', 'gpt-4o']),
      client(['stream', 'Tell me a story', '--model', 'gpt-4o', '--json']),
    ]);
    expect(stream.code).toBe(0);
    const events = stream.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as Record<
            string,
            { content?: string; model?: string; finishReason?: string; usage?: { completionTokens?: number } }
          >,
      );
    const kinds = events.map((e) => Object.keys(e)[0]);
    expect(kinds[0]).toBe('started');
    expect(kinds.at(-1)).toBe('completed');
    expect(kinds.slice(1, -1).every((k) => k === 'delta')).toBe(true);
    expect(kinds.length).toBeGreaterThan(5);
    expect(events[0]?.started?.model).toBe('gpt-4o');
    const completed = events.at(-1)?.completed;
    expect(completed).toMatchObject({ model: 'gpt-4o', provider: 'openai', finishReason: 'FINISH_REASON_STOP' });
    expect(completed?.usage?.completionTokens).toBeGreaterThan(0);
    const text = events
      .slice(1, -1)
      .map((e) => e.delta?.content ?? '')
      .join('');
    expect(text).toBe(field(chat.stdout, 'content'));
  });

  it('stream: prints tokens as they arrive, before the summary', async () => {
    requirePython();
    // gpt-4-turbo streams 35 tokens/s, x0.2 here: about 6 ms a token, over 200 ms in all.
    const child = spawn(PYTHON, [CLIENT, address, 'stream', 'Tell me a story', '--model', 'gpt-4-turbo']);
    let stdout = '';
    let firstTokenAt: number | undefined;
    let completedAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const afterStarted = stdout.split('\n').slice(1).join('\n');
      if (firstTokenAt === undefined && afterStarted.startsWith('Simulated')) firstTokenAt = performance.now();
      if (completedAt === undefined && stdout.includes('\ncompleted: ')) completedAt = performance.now();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^started: model=gpt-4-turbo provider=openai request_id=\S+$/);
    expect(stdout).toMatch(/\ncompleted: model=gpt-4-turbo provider=openai /);
    expect(field(stdout, 'finish_reason')).toBe('FINISH_REASON_STOP');
    expect(firstTokenAt).toBeDefined();
    expect(completedAt).toBeDefined();
    // Printed as they came: the first tokens were on screen well before the stream ended.
    expect((completedAt ?? 0) - (firstTokenAt ?? 0)).toBeGreaterThan(50);
  });

  it('stream: a deadline mid-answer ends the line of tokens before the error, and exits 1', async () => {
    requirePython();
    // Five tokens a second: the first comes at once, the answer would take seconds.
    harness.upstream.injectFault({ kind: 'slow', tokensPerSecond: 5, model: 'gpt-4-turbo', times: 1 });
    const result = await client(['stream', 'Tell me a story', '--model', 'gpt-4-turbo', '--timeout', '1.5']);
    expect(result.code).toBe(1);
    const [started, tokens, ...rest] = result.stdout.split('\n');
    expect(started).toMatch(/^started: model=gpt-4-turbo /);
    expect(tokens).toMatch(/^Simulated/);
    expect(rest).toEqual(['']);
    expect(result.stderr).toMatch(/^error: DEADLINE_EXCEEDED: /);
  });

  it('race: the fast model wins and the slow one is cancelled', async () => {
    requirePython();
    const result = await client(['race', 'hi', '--models', 'o3,gpt-4o-mini']);
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'winner')).toBe('gpt-4o-mini (openai)');
    expect(field(result.stdout, 'content')).toMatch(/^Simulated gpt-4o-mini answer/);
    const attempts = result.stdout.split('\n').filter((l) => l.startsWith('attempt: '));
    expect(attempts).toHaveLength(2);
    expect(attempts.some((l) => /^attempt: gpt-4o-mini SUCCESS /.test(l))).toBe(true);
    expect(attempts.some((l) => /^attempt: o3 CANCELLED /.test(l))).toBe(true);
  });

  it('an error: exit 1 with the gRPC code and the decoded ErrorInfo on stderr', async () => {
    requirePython();
    const result = await client(['chat', 'hi', '--model', 'no-such-model', '--request-id', 'py-err-1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('error: NOT_FOUND: ');
    expect(result.stderr).toContain('reason: MODEL_NOT_FOUND (domain llm-orchestrator)');
    expect(result.stderr).toContain('request_id: py-err-1');
  });

  it('--retries: decodes RetryInfo from an upstream 429 and waits that long before the next call', async () => {
    requirePython();
    harness.upstream.injectFault({ kind: 'rate_limit', retryAfter: '1', times: 1, model: 'gpt-4o-mini' });
    const started = performance.now();
    const result = await client(['chat', 'hello', '--model', 'gpt-4o-mini', '--retries', '2']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('retry: UNAVAILABLE after attempt 1; waiting 1.000s (RetryInfo)\n');
    expect(field(result.stdout, 'content')).toMatch(/^Simulated gpt-4o-mini answer/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('--retries: does not sleep out a wait longer than a call should (pushback -1 beside a RetryInfo of minutes)', async () => {
    requirePython();
    harness.upstream.injectFault({ kind: 'rate_limit', retryAfter: '600', times: 1, model: 'gpt-4o-mini' });
    const started = performance.now();
    const result = await client(['chat', 'hello', '--model', 'gpt-4o-mini', '--retries', '2']);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('retry:');
    expect(result.stderr).toMatch(/^error: UNAVAILABLE: /);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('--retries: stops at once on a refusal whose pushback is negative (no wait cures it)', async () => {
    requirePython();
    // Every request's estimate is over a global limit of 1 token a minute: pushback -1, no RetryInfo.
    const tiny = await startHarness({ env: { CONFIG_FILE: writeConfigFile('access:\n  global: { tokens_per_minute: 1 }\n') } });
    try {
      const result = await client(['chat', 'hello', '--retries', '2'], `127.0.0.1:${tiny.app.port}`);
      expect(result.code).toBe(1);
      expect(result.stderr).not.toContain('retry:');
      expect(result.stderr).toMatch(/^error: RESOURCE_EXHAUSTED: request of an estimated \d+ tokens exceeds 1 tokens per minute/);
    } finally {
      await tiny.close();
    }
  });

  it('a --timeout, --retries or --max-tokens that cannot be sent as given is a usage error (exit 2), not a call or a silent exit 0', async () => {
    requirePython();
    for (const bad of [
      ['--timeout', '0'],
      ['--timeout', '-1'],
      ['--retries', '-1'],
      ['--max-tokens', '9999999999'],
    ]) {
      const result = await client(['chat', 'hi', ...bad]);
      expect(result.code, bad.join(' ')).toBe(2);
      expect(result.stderr).toContain(`argument ${bad[0]}: `);
      expect(result.stdout).toBe('');
    }
  });

  it('a validation error lists the field violation from BadRequest', async () => {
    requirePython();
    const result = await client(['chat', 'hi', '--temperature', '5']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: INVALID_ARGUMENT: ');
    expect(result.stderr).toMatch(/field temperature: /);
  });
});

describe('the Python example client against a gateway with TLS, client certificates and API keys', () => {
  let secured: Harness;
  let certs: ReturnType<typeof makeCertificates>;
  beforeAll(async () => {
    certs = makeCertificates();
    secured = await startHarness({
      latencyScale: 0,
      env: { TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey, TLS_CLIENT_CA_FILE: certs.ca, CONFIG_FILE: accessFile() },
    });
  });
  afterAll(async () => {
    await secured?.close();
  });

  const tls = (): string[] => ['--ca-file', certs.ca, '--cert-file', certs.clientCert, '--key-file', certs.clientKey];

  it('--ca-file, --cert-file, --key-file and --api-key: the call goes through', async () => {
    requirePython();
    const result = await client(
      ['chat', 'hi', '--model', 'gpt-4o-mini', ...tls(), '--api-key', 'erin-secret'],
      `127.0.0.1:${secured.app.port}`,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'model')).toBe('gpt-4o-mini (openai)');
  });

  it('a wrong API key is UNAUTHENTICATED with its reason', async () => {
    requirePython();
    const result = await client(['chat', 'hi', ...tls(), '--api-key', 'wrong'], `127.0.0.1:${secured.app.port}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: UNAUTHENTICATED: /);
    expect(result.stderr).toContain('reason: API_KEY_INVALID (domain llm-orchestrator)');
  });
});
