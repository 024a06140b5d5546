import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessFile } from '../helpers/access-file.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeCertificates } from '../helpers/tls.js';

/**
 * examples/go built offline in GOPATH mode with Debian's Go packages (grpc-go, golang/protobuf,
 * genproto in /usr/share/gocode) and run against the real server in front of the simulator.
 */
const run = promisify(execFile);
const APT_LINE = 'apt-get install -y golang-go golang-google-grpc-dev golang-goprotobuf-dev protoc-gen-go-grpc protobuf-compiler';
const IMPORT_PATH = 'github.com/llm-orchestrator/llm-orchestrator';
const REPO = resolve('.');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

let harness: Harness;
let address: string;
/** A gateway whose global tokens-per-minute limit is below any request's estimate. */
let tiny: Harness;
let work: string;
let binary: string;
/** Set when the Go toolchain or packages are missing: every test then fails with it (none is skipped). */
let buildError: Error | undefined;

/** A GOPATH where our import path is this checkout, in front of Debian's packages. */
function goEnv(gopath: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: 'off',
    GOFLAGS: '',
    GOPATH: `${gopath}:/usr/share/gocode`,
    GOCACHE: join(gopath, 'cache'),
  };
}

/** Runs the client without blocking the event loop (the server runs in this process). */
async function client(args: string[]): Promise<Result> {
  if (buildError) throw buildError;
  const started = performance.now();
  try {
    const { stdout, stderr } = await run(binary, args, { timeout: 15_000 });
    return { code: 0, stdout, stderr, ms: performance.now() - started };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '', ms: performance.now() - started };
  }
}

function field(stdout: string, label: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label}: `));
  return line?.slice(label.length + 2);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'llmo-go-'));
  binary = join(work, 'client');
  try {
    await mkdir(join(work, 'src', 'github.com', 'llm-orchestrator'), { recursive: true });
    await symlink(REPO, join(work, 'src', IMPORT_PATH));
    await run('go', ['build', '-o', binary, './examples/go'], { env: goEnv(work), timeout: 240_000 });
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr || err).trim();
    buildError = new Error(`go build ./examples/go failed (needs: ${APT_LINE}): ${why}`);
  }
  harness = await startHarness({ latencyScale: 0.2 });
  address = `127.0.0.1:${harness.app.port}`;
  tiny = await startHarness({ env: { CONFIG_FILE: writeConfigFile('access:\n  global: { tokens_per_minute: 1 }\n') } });
}, 300_000);

afterAll(async () => {
  await harness?.close();
  await tiny?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the Go example client', () => {
  it('has generated code that matches proto/ (clients/go/generate.sh regenerates it)', async () => {
    if (buildError) throw buildError;
    const out = join(work, 'gen');
    await run('bash', ['clients/go/generate.sh', out], { timeout: 30_000 });
    const diff = await run('diff', ['-r', 'clients/go/orchestrator', join(out, 'orchestrator')]).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? 'diff failed',
    );
    expect(diff, 'clients/go is stale: run npm run generate').toBe('');
  });

  it('chat: prints the answer, the model, usage and the request id it sent', async () => {
    const result = await client(['-model', 'gpt-4o-mini', '-request-id', 'go-chat-1', address, 'chat', 'hello']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'model')).toBe('gpt-4o-mini (openai)');
    expect(field(result.stdout, 'content')).toMatch(/^Simulated gpt-4o-mini answer/);
    expect(field(result.stdout, 'usage')).toMatch(/^prompt=[1-9]\d* completion=[1-9]\d* total=[1-9]\d*$/);
    expect(field(result.stdout, 'finish_reason')).toBe('FINISH_REASON_STOP');
    expect(field(result.stdout, 'attempt')).toMatch(/^gpt-4o-mini SUCCESS /);
    expect(field(result.stdout, 'request_id')).toBe('go-chat-1');
  });

  it('stream: started, the deltas (the Chat answer), then completed, read to the end', async () => {
    const [chat, stream] = await Promise.all([
      client(['-model', 'gpt-4o', address, 'chat', 'Tell me a story']),
      client(['-model', 'gpt-4o', '-timeout', '10s', address, 'stream', 'Tell me a story']),
    ]);
    expect(stream.stderr).toBe('');
    expect(stream.code).toBe(0);
    const lines = stream.stdout.split('\n');
    expect(lines[0]).toMatch(/^started: model=gpt-4o provider=openai request_id=\S+$/);
    expect(lines[1]).toBe(field(chat.stdout, 'content'));
    expect(lines[2]).toMatch(/^completed: model=gpt-4o provider=openai time_to_first_token_ms=\d+\.\d$/);
    expect(field(stream.stdout, 'finish_reason')).toBe('FINISH_REASON_STOP');
  });

  it('stream: a deadline shorter than the answer ends it with DEADLINE_EXCEEDED, not a partial success', async () => {
    // gpt-4-turbo drips 35 tokens/s (x0.2 here): far longer than 60 ms in all.
    const result = await client(['-model', 'gpt-4-turbo', '-timeout', '60ms', address, 'stream', 'Tell me a story']);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('completed:');
    expect(result.stderr).toMatch(/^error: DEADLINE_EXCEEDED: /);
  });

  it('stream: a deadline mid-answer ends the line of tokens before the error', async () => {
    // Five tokens a second: the first comes at once, the answer would take seconds.
    harness.upstream.injectFault({ kind: 'slow', tokensPerSecond: 5, model: 'gpt-4-turbo', times: 1 });
    const result = await client(['-model', 'gpt-4-turbo', '-timeout', '1500ms', address, 'stream', 'Tell me a story']);
    expect(result.code).toBe(1);
    const [started, tokens, ...rest] = result.stdout.split('\n');
    expect(started).toMatch(/^started: model=gpt-4-turbo /);
    expect(tokens).toMatch(/^Simulated/);
    expect(rest).toEqual(['']);
    expect(result.stderr).toMatch(/^error: DEADLINE_EXCEEDED: /);
  });

  it('a -timeout of 0 or less is a usage error (exit 2), not a call that fails at once as DEADLINE_EXCEEDED', async () => {
    for (const timeout of ['0s', '-1s']) {
      const result = await client(['-timeout', timeout, address, 'chat', 'hi']);
      expect(result.code, timeout).toBe(2);
      expect(result.stderr).toContain('-timeout: ');
      expect(result.stdout).toBe('');
    }
  });

  it('an error: exit 1 with the code and the decoded ErrorInfo', async () => {
    const result = await client(['-model', 'no-such-model', '-request-id', 'go-err-1', address, 'chat', 'hi']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: NOT_FOUND: /);
    expect(result.stderr).toContain('reason: MODEL_NOT_FOUND (domain llm-orchestrator)');
  });

  it('retry: decodes RetryInfo from an upstream 429 and waits that long before the next call', async () => {
    harness.upstream.injectFault({ kind: 'rate_limit', retryAfter: '1', times: 1, model: 'gpt-4o-mini' });
    const result = await client(['-model', 'gpt-4o-mini', '-attempts', '3', address, 'retry', 'hello']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^retry: UNAVAILABLE after attempt 1; waiting 1s \(RetryInfo\)\n$/);
    expect(field(result.stdout, 'attempts')).toBe('2');
    expect(field(result.stdout, 'content')).toMatch(/^Simulated gpt-4o-mini answer/);
    expect(result.ms).toBeGreaterThanOrEqual(1_000);
  });

  it('retry: does not sleep out a wait longer than a call should (pushback -1 beside a RetryInfo of minutes)', async () => {
    harness.upstream.injectFault({ kind: 'rate_limit', retryAfter: '600', times: 1, model: 'gpt-4o-mini' });
    const result = await client(['-model', 'gpt-4o-mini', '-attempts', '3', address, 'retry', 'hello']);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('retry:');
    expect(result.stderr).toMatch(/^error: UNAVAILABLE: /);
    expect(result.stderr).toMatch(/retry after: (599|600)\.\d{3}s/);
    expect(result.ms).toBeLessThan(20_000);
  });

  it('retry: gives up after -attempts and prints the last error with its RetryInfo', async () => {
    harness.upstream.injectFault({ kind: 'rate_limit', retryAfter: '1', times: 2, model: 'gpt-4o' });
    const result = await client(['-model', 'gpt-4o', '-attempts', '2', address, 'retry', 'hello']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('retry: UNAVAILABLE after attempt 1; waiting 1s (RetryInfo)');
    expect(result.stderr).toMatch(/\nerror: UNAVAILABLE: .*\n/);
    expect(result.stderr).toContain('retry after: 1.000s');
  });

  it('retry: stops at once on a refusal whose pushback is negative (no wait cures it)', async () => {
    const result = await client(['-attempts', '3', `127.0.0.1:${tiny.app.port}`, 'retry', 'hello']);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('retry:');
    expect(result.stderr).toMatch(/^error: RESOURCE_EXHAUSTED: request of an estimated \d+ tokens exceeds 1 tokens per minute/);
  });
});

describe('the Go example client against a gateway with TLS, client certificates and API keys', () => {
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

  it('-ca-file, -cert-file, -key-file and -api-key: the call goes through', async () => {
    const tls = ['-ca-file', certs.ca, '-cert-file', certs.clientCert, '-key-file', certs.clientKey];
    const result = await client([
      ...tls,
      '-api-key',
      'erin-secret',
      '-model',
      'gpt-4o-mini',
      `127.0.0.1:${secured.app.port}`,
      'chat',
      'hi',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'model')).toBe('gpt-4o-mini (openai)');
  });

  it('a wrong API key is UNAUTHENTICATED with its reason', async () => {
    const tls = ['-ca-file', certs.ca, '-cert-file', certs.clientCert, '-key-file', certs.clientKey];
    const result = await client([...tls, '-api-key', 'wrong', `127.0.0.1:${secured.app.port}`, 'chat', 'hi']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: UNAUTHENTICATED: /);
    expect(result.stderr).toContain('reason: API_KEY_INVALID (domain llm-orchestrator)');
  });
});
