import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accessFile } from '../helpers/access-file.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeCertificates } from '../helpers/tls.js';

/** The `llm-orchestrator` CLI (src/cli/main.ts, the package's bin once built) against the real server. */
const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking the event loop (the server runs in this process). */
async function cli(args: string[], env: Record<string, string> = {}, entry: string[] = CLI): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...entry, ...args], {
      // Each run compiles the CLI through tsx: a second or two alone, several on a busy machine.
      timeout: 30_000,
      env: { ...process.env, LLMO_ADDR: address, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function field(text: string, label: string): string | undefined {
  return text
    .split('\n')
    .find((l) => l.startsWith(`${label}: `))
    ?.slice(label.length + 2);
}

let harness: Harness;
let address: string;

beforeAll(async () => {
  harness = await startHarness({ latencyScale: 0.2 });
  address = `127.0.0.1:${harness.app.port}`;
});

afterEach(() => harness.upstream.clearFaults());

afterAll(async () => {
  await harness?.close();
});

describe('llm-orchestrator CLI', { timeout: 60_000 }, () => {
  it('chat: the answer on stdout; model, usage, cost and attempts on stderr', async () => {
    const result = await cli(['chat', 'hello', 'there', '--model', 'gpt-4o-mini', '--request-id', 'cli-chat-1', '--max-tokens', '100']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Simulated gpt-4o-mini answer on hello[^\n]*\n$/);
    expect(field(result.stderr, 'model')).toBe('gpt-4o-mini (openai)');
    expect(field(result.stderr, 'usage')).toMatch(/^[1-9]\d* prompt \+ [1-9]\d* completion = [1-9]\d* tokens$/);
    expect(field(result.stderr, 'cost')).toMatch(/^\$0\.\d{6}$/);
    expect(field(result.stderr, 'attempts')).toBe('1');
    expect(result.stderr).toMatch(/\n {2}1\. gpt-4o-mini SUCCESS \d+\.\d ms\n/);
    expect(field(result.stderr, 'request id')).toBe('cli-chat-1');
  });

  it('stream: prints the tokens as they arrive, then the summary', async () => {
    const chat = await cli(['chat', 'Tell me a story', '--model', 'gpt-4-turbo', '-q']);
    // gpt-4-turbo streams 35 tokens/s, x0.2 here: about 6 ms a token, over 200 ms in all.
    const child = spawn(process.execPath, [...CLI, 'stream', 'Tell me a story', '--model', 'gpt-4-turbo'], {
      env: { ...process.env, LLMO_ADDR: address },
    });
    let stdout = '';
    let stderr = '';
    let firstTokenAt: number | undefined;
    let summaryAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      firstTokenAt ??= performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('\nusage: ')) summaryAt ??= performance.now();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stdout).toBe(chat.stdout);
    expect(stderr.split('\n')[0]).toMatch(/^started: gpt-4-turbo \(openai\), request id \S+$/);
    expect(field(stderr, 'finish')).toBe('STOP');
    expect(field(stderr, 'time to first token')).toMatch(/^\d+\.\d ms$/);
    expect(field(stderr, 'usage')).toMatch(/completion = [1-9]\d* tokens$/);
    expect((summaryAt ?? 0) - (firstTokenAt ?? Infinity)).toBeGreaterThan(50);
  });

  it('stream: a stream cut after some tokens ends the printed line before the error, and exits 1', async () => {
    harness.upstream.injectFault({ kind: 'cut', model: 'gpt-4o-mini', afterTokens: 2, times: 1 });
    const result = await cli(['stream', 'hello', '--model', 'gpt-4o-mini']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^Simulated \S+.*\n$/);
    expect(result.stderr).toContain('reason: STREAM_TRUNCATED');
  });

  it('race: names the winner and the cancelled loser', async () => {
    const result = await cli(['race', 'hi', '--models', 'o3,gpt-4o-mini']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Simulated gpt-4o-mini answer/);
    expect(field(result.stderr, 'winner')).toBe('gpt-4o-mini (openai)');
    expect(result.stderr).toMatch(/\n {2}\d\. o3 CANCELLED /);
  });

  it('fallback: the next model answers when the first fails, and says so', async () => {
    harness.upstream.injectFault({ kind: 'http_error', status: 503, model: 'gpt-4-turbo' });
    const result = await cli(['fallback', 'hi', '--models', 'gpt-4-turbo,gpt-4o-mini']);
    expect(result.code).toBe(0);
    expect(field(result.stderr, 'answered by')).toBe('gpt-4o-mini (openai)');
    expect(field(result.stderr, 'fallback triggered')).toBe('yes');
    expect(result.stderr).toMatch(/\n {2}1\. gpt-4-turbo FAILURE /);
  });

  it('--json prints JSON that parses (chat, and stream one event per line)', async () => {
    const chat = await cli(['chat', 'hi', '--model', 'gpt-4o-mini', '--json']);
    expect(chat.code).toBe(0);
    expect(chat.stderr).toBe('');
    const response = JSON.parse(chat.stdout) as {
      model?: string;
      content?: string;
      usage?: { totalTokens?: number };
      finishReason?: string;
    };
    expect(response).toMatchObject({ model: 'gpt-4o-mini', provider: 'openai', finishReason: 'FINISH_REASON_STOP' });
    expect(response.usage?.totalTokens).toBeGreaterThan(0);

    const stream = await cli(['stream', 'hi', '--model', 'gpt-4o-mini', '--json']);
    const events = stream.stdout
      .trim()
      .split('\n')
      .map((l) => Object.keys(JSON.parse(l) as object)[0]);
    expect(events[0]).toBe('started');
    expect(events.at(-1)).toBe('completed');
    expect(events.slice(1, -1).every((e) => e === 'delta')).toBe(true);
  });

  it('--json prints 64-bit counters as numbers, and --help, docs/calling.md and examples/README.md say so rather than "proto JSON"', async () => {
    await cli(['chat', 'count me', '-q']);
    const [stats, help] = await Promise.all([cli(['stats', '--json']), cli(['--help'])]);
    const counters = JSON.parse(stats.stdout) as { totalRequests?: unknown };
    // Proto JSON (what buf curl prints) writes int64 as a string; the CLI writes a number.
    expect(typeof counters.totalRequests).toBe('number');
    const jsonLine = help.stdout.split('\n').find((l) => l.trimStart().startsWith('--json')) ?? '';
    expect(jsonLine).toContain('64-bit integers as numbers');
    const calling = readFileSync('docs/calling.md', 'utf8');
    expect(calling).toContain('`--json` prints JSON with proto JSON names, 64-bit integers as numbers');
    const examples = readFileSync('examples/README.md', 'utf8');
    expect(examples).not.toContain('`--json` prints the response as\nproto JSON');
    expect(examples).toContain('`--json` prints the response as JSON with proto JSON names, 64-bit integers as\nnumbers');
  });

  it('models: lists the catalog with gpt-4o', async () => {
    const [result, jsonResult] = await Promise.all([cli(['models']), cli(['models', '--json'])]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^MODEL\s+PROVIDER\s+KIND\s+CONTEXT\s+MAX OUT/);
    expect(lines.find((l) => l.startsWith('gpt-4o '))).toMatch(/^gpt-4o\s+openai\s+chat\s+128000\s+16384\s/);
    expect(lines.find((l) => l.startsWith('text-embedding-3-small '))).toMatch(/^text-embedding-3-small\s+openai\s+embedding\s+8191\s+-\s/);
    const json = JSON.parse(jsonResult.stdout) as { models: { id: string }[] };
    expect(json.models.map((m) => m.id)).toContain('gpt-4o');
  });

  it('stats: shows the counts, which go up with each call', async () => {
    const before = JSON.parse((await cli(['stats', '--json'])).stdout) as { totalRequests?: number };
    await cli(['chat', 'count me', '-q']);
    const result = await cli(['stats']);
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'requests')).toMatch(new RegExp(`^${(before.totalRequests ?? 0) + 1} total, \\d+ ok, \\d+ failed`));
    expect(result.stdout).toMatch(/\nChat\s+[1-9]\d*\s+/);
    expect(result.stdout).toMatch(/\ngpt-4o\s+[1-9]\d*\s+/);
  });

  it('a failed call exits 1 with the gRPC code and the ErrorInfo reason', async () => {
    const result = await cli(['chat', 'hi', '--model', 'no-such-model', '--request-id', 'cli-err-1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('error: NOT_FOUND (code 5): ');
    expect(result.stderr).toContain('reason: MODEL_NOT_FOUND');
    expect(result.stderr).toContain('request id: cli-err-1');
  });

  it('bad usage exits 2 with the usage text; --help exits 0', async () => {
    const [bad, help] = await Promise.all([cli(['frobnicate']), cli(['--help'])]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command "frobnicate"');
    expect(bad.stderr).toContain('usage: llm-orchestrator');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--timeout DURATION');
  });

  it('a --max-tokens or --hedge-ms beyond a 32-bit field is bad usage, not a failed call', async () => {
    const [tokens, hedge] = await Promise.all([
      cli(['chat', 'hi', '--max-tokens', '3000000000']),
      cli(['race', 'hi', '--models', 'gpt-4o,gpt-4o-mini', '--hedge-ms', '4294967296']),
    ]);
    expect([tokens.code, tokens.stdout]).toEqual([2, '']);
    expect(tokens.stderr).toContain('--max-tokens: "3000000000" is not a whole number from 1 to 2147483647');
    expect([hedge.code, hedge.stdout]).toEqual([2, '']);
    expect(hedge.stderr).toContain('--hedge-ms: "4294967296" is not a whole number from 0 to 2147483647');
  });

  it('a --ca-file, --cert-file or --key-file that cannot be read is bad usage naming the flag, for every command', async () => {
    const missing = '/nonexistent/ca.pem';
    const [chat, usage, calls] = await Promise.all([
      cli(['chat', 'hi', '--ca-file', missing]),
      cli(['usage', '--ca-file', missing]),
      cli(['calls', '--cert-file', missing, '--key-file', missing]),
    ]);
    expect([chat.code, chat.stdout]).toEqual([2, '']);
    expect(chat.stderr).toContain(`--ca-file: cannot read ${missing}`);
    expect([usage.code, usage.stdout]).toEqual([2, '']);
    expect(usage.stderr).toContain(`--ca-file: cannot read ${missing}`);
    expect([calls.code, calls.stdout]).toEqual([2, '']);
    expect(calls.stderr).toContain(`--key-file: cannot read ${missing}`);
  });

  it('a --request-id or API key that cannot travel as a header is bad usage naming where it came from', async () => {
    const [requestId, apiKey, envKey, ledgerKey] = await Promise.all([
      cli(['chat', 'hi', '--request-id', 'héllo']),
      cli(['chat', 'hi', '--api-key', 'kéy']),
      cli(['models'], { LLMO_API_KEY: 'line\nbreak' }),
      cli(['usage', '--api-key', 'kéy']),
    ]);
    expect([requestId.code, requestId.stdout]).toEqual([2, '']);
    expect(requestId.stderr).toContain('--request-id: "héllo" must be printable ASCII');
    expect([apiKey.code, apiKey.stdout]).toEqual([2, '']);
    expect(apiKey.stderr).toContain('--api-key: the key must be printable ASCII');
    expect(apiKey.stderr).not.toContain('kéy');
    expect([envKey.code, envKey.stdout]).toEqual([2, '']);
    expect(envKey.stderr).toContain('LLMO_API_KEY: the key must be printable ASCII');
    expect([ledgerKey.code, ledgerKey.stdout]).toEqual([2, '']);
    expect(ledgerKey.stderr).toContain('--api-key: the key must be printable ASCII');
  });

  it('an option the command does not use is refused with exit 2, never ignored', async () => {
    const [race, fallback, chat, models, stats] = await Promise.all([
      cli(['race', 'hi', '--route', 'speed']),
      cli(['fallback', 'hi', '--strategy', 'race', '--models', 'gpt-4o-mini']),
      cli(['chat', 'hi', '--models', 'gpt-4o,gpt-4o-mini']),
      cli(['models', '--model', 'gpt-4o']),
      cli(['stats', '--available']),
    ]);
    expect([race.code, race.stdout]).toEqual([2, '']);
    expect(race.stderr).toContain('--route does not apply to race (only to chat, stream)');
    expect([fallback.code, fallback.stdout]).toEqual([2, '']);
    expect(fallback.stderr).toContain('--strategy does not apply to fallback (only to stream)');
    expect([chat.code, chat.stdout]).toEqual([2, '']);
    expect(chat.stderr).toContain('chat: --models names the candidates of --route');
    expect([models.code, models.stderr]).toEqual([2, expect.stringContaining('--model does not apply to models')]);
    expect([stats.code, stats.stderr]).toEqual([2, expect.stringContaining('--available does not apply to stats (only to models)')]);
    // What each command does use is still taken, -m included.
    const routed = await cli(['chat', 'hi', '--route', 'budget', '--models', 'gpt-4o-mini,gpt-4o', '-q']);
    expect(routed.code).toBe(0);
  });

  it('--route takes the long-context profile as the HTTP API and the config file spell it, and as before', async () => {
    const spellings = ['long_context', 'LONG_CONTEXT', 'long-context'];
    const results = await Promise.all(spellings.map((p) => cli(['chat', 'hi', '--route', p, '--models', 'gpt-4o-mini,gpt-4.1', '-q'])));
    expect(results.map((r) => [r.code, r.stderr])).toEqual(spellings.map(() => [0, '']));
    const help = await cli(['--help']);
    expect(help.stdout).toContain('quality|balanced|speed|budget|long_context');
  });

  it('"-" reads the PROMPT from standard input; an empty input is bad usage, not a call', async () => {
    const withInput = async (input: string): Promise<Result> => {
      const child = spawn(process.execPath, [...CLI, 'chat', '-', '--model', 'gpt-4o-mini', '-q'], {
        env: { ...process.env, LLMO_ADDR: address },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdin.end(input);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      return { code: code ?? -1, stdout, stderr };
    };
    const [asked, empty] = await Promise.all([withInput('hello from stdin\n'), withInput(' \n')]);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toMatch(/^Simulated gpt-4o-mini answer on hello/);
    expect([empty.code, empty.stdout]).toEqual([2, '']);
    expect(empty.stderr).toContain('chat needs a PROMPT: standard input was empty');
  });

  it('--help lists usage and calls, which run with options before the command too', async () => {
    const [help, calls, unknown] = await Promise.all([
      cli(['--help']),
      cli(['--addr', address, '--json', 'calls', '--limit', '1']),
      cli(['frobnicate']),
    ]);
    expect(help.stdout).toMatch(/^ {2}usage {2,}\S/m);
    expect(help.stdout).toMatch(/^ {2}calls {2,}\S/m);
    expect(unknown.stderr).toContain('(one of: chat, stream, race, fallback, models, stats, usage, calls)');
    expect(calls.stderr).toBe('');
    expect(calls.code).toBe(0);
    expect(JSON.parse(calls.stdout)).toHaveProperty('calls');
  });

  it('usage and calls: their help and docs/ledger.md give the --timeout default, the one every command has', async () => {
    const [main, usage, calls] = await Promise.all([cli(['--help']), cli(['usage', '--help']), cli(['calls', '--help'])]);
    expect(main.stdout).toMatch(/--timeout DURATION .*\(default 60s\)/);
    expect(usage.stdout).toContain('--timeout DURATION (default 60s)');
    expect(calls.stdout).toContain('--timeout DURATION (default 60s)');
    expect(readFileSync('docs/ledger.md', 'utf8')).toContain('`--timeout` (default 60s, as for every command)');
  });

  it('usage and calls: --method takes the name the calls table shows; a name of no method is bad usage', async () => {
    await cli(['chat', 'hi', '-m', 'gpt-4o-mini', '-q', '--request-id', 'cli-method-1']);
    await harness.app.ledger.store?.flush();
    const [short, lower, full, usageShort, usageFull, unknown] = await Promise.all([
      cli(['calls', '--method', 'Chat', '--request-id', 'cli-method-1']),
      cli(['calls', '--method', 'chat', '--request-id', 'cli-method-1']),
      cli(['calls', '--method', '/orchestrator.v1.ChatService/Chat', '--request-id', 'cli-method-1']),
      cli(['usage', '--method', 'Chat', '--json']),
      cli(['usage', '--method', '/orchestrator.v1.ChatService/Chat', '--json']),
      cli(['calls', '--method', 'Chatt']),
    ]);
    for (const found of [short, lower, full]) {
      expect(found.code).toBe(0);
      expect(found.stdout).toMatch(/\n\S+ \S+ +cli-method-1 +Chat +/);
    }
    const requests = (r: Result) => (JSON.parse(r.stdout) as { rows: { requests?: number }[] }).rows[0]?.requests;
    expect(requests(usageShort)).toBeGreaterThan(0);
    expect(requests(usageShort)).toBe(requests(usageFull));
    expect([unknown.code, unknown.stdout]).toEqual([2, '']);
    expect(unknown.stderr).toContain('--method: "Chatt" is not a method the ledger records (one of: Chat, StreamChat,');
  });

  it('usage and calls take -m for --model, as the other commands do', async () => {
    await cli(['chat', 'hi', '-m', 'gpt-4o-mini', '-q']);
    await harness.app.ledger.store?.flush();
    const [short, long, calls, help] = await Promise.all([
      cli(['usage', '-m', 'gpt-4o-mini', '--json']),
      cli(['usage', '--model', 'gpt-4o-mini', '--json']),
      cli(['calls', '-m', 'gpt-4o-mini', '--limit', '1']),
      cli(['usage', '--help']),
    ]);
    expect([short.code, short.stderr]).toEqual([0, '']);
    expect(short.stdout).toBe(long.stdout);
    expect([calls.code, calls.stderr]).toEqual([0, '']);
    expect(calls.stdout).toMatch(/\n.* gpt-4o-mini +OK +/);
    expect(help.stdout).toContain('-m, --model ID');
  });

  it('usage and calls into a reader that went away (| head) exit 0 without an error', async () => {
    for (const command of ['usage', 'calls']) {
      const child = spawn(process.execPath, [...CLI, command], { env: { ...process.env, LLMO_ADDR: address } });
      // The reader is gone before the table is written, as when `head` has read its lines.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect([command, code, stderr]).toEqual([command, 0, '']);
    }
  });

  it('chat and stream whose summary reader went away (2>&1 | head) exit 0, the answer printed', async () => {
    for (const command of ['chat', 'stream']) {
      const child = spawn(process.execPath, [...CLI, command, 'hi', '-m', 'gpt-4o-mini'], { env: { ...process.env, LLMO_ADDR: address } });
      // The reader is gone before the summary is written, as when `head` has read the answer's first line.
      child.stderr.destroy();
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect([command, code]).toEqual([command, 0]);
      expect(stdout).toMatch(/^Simulated gpt-4o-mini answer/);
    }
  });

  it('calls: a reason that is the code itself is printed once', async () => {
    harness.upstream.injectFault({ kind: 'hang', model: 'gpt-4o-mini', times: 1 });
    const late = await cli(['chat', 'hi', '-m', 'gpt-4o-mini', '--timeout', '300ms', '--request-id', 'cli-late-1']);
    expect(late.stderr).toContain('error: DEADLINE_EXCEEDED');
    await harness.app.ledger.store?.flush();
    const calls = await cli(['calls', '--request-id', 'cli-late-1']);
    expect(calls.code).toBe(0);
    const row = calls.stdout.split('\n').find((l) => l.includes('cli-late-1')) ?? '';
    expect(row.match(/DEADLINE_EXCEEDED/g)).toHaveLength(1);
    expect(row).toMatch(/ {2}gpt-4o-mini {2}DEADLINE_EXCEEDED {2}/);
  });

  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await cli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`llm-orchestrator ${version} (node ${process.version})`);
  });
});

describe('llm-orchestrator CLI over TLS with API keys', { timeout: 60_000 }, () => {
  let secured: Harness;
  let certs: ReturnType<typeof makeCertificates>;
  beforeAll(async () => {
    certs = makeCertificates();
    secured = await startHarness({
      latencyScale: 0,
      env: { TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey, CONFIG_FILE: accessFile() },
    });
  });
  afterAll(async () => {
    await secured?.close();
  });

  it('--ca-file and --api-key: the call goes through', async () => {
    const addr = `127.0.0.1:${secured.app.port}`;
    const result = await cli(['chat', 'hi', '--addr', addr, '--ca-file', certs.ca, '--api-key', 'erin-secret', '-m', 'gpt-4o-mini']);
    expect(result.stderr).toContain('model: gpt-4o-mini (openai)');
    expect(result.code).toBe(0);
    // The key can come from the environment too; a wrong one is refused with the reason.
    const refused = await cli(['chat', 'hi', '--addr', addr, '--ca-file', certs.ca], { LLMO_API_KEY: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: UNAUTHENTICATED (code 16): ');
    expect(refused.stderr).toContain('reason: API_KEY_INVALID');
  });
});

describe('llm-orchestrator CLI against a gateway that requires client certificates (mTLS)', { timeout: 60_000 }, () => {
  let mtls: Harness;
  let certs: ReturnType<typeof makeCertificates>;
  beforeAll(async () => {
    certs = makeCertificates();
    mtls = await startHarness({
      latencyScale: 0,
      env: { TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey, TLS_CLIENT_CA_FILE: certs.ca },
    });
  });
  afterAll(async () => {
    await mtls?.close();
  });

  it('--cert-file and --key-file work for every command, usage and calls too', async () => {
    const tls = [
      '--addr',
      `127.0.0.1:${mtls.app.port}`,
      '--ca-file',
      certs.ca,
      '--cert-file',
      certs.clientCert,
      '--key-file',
      certs.clientKey,
    ];
    const chat = await cli(['chat', 'hi', '-m', 'gpt-4o-mini', ...tls]);
    expect(chat.code).toBe(0);
    const [calls, usage] = await Promise.all([cli(['calls', '--limit', '1', ...tls]), cli(['usage', '--group-by', 'model', ...tls])]);
    expect(calls.stderr).not.toContain('llm-orchestrator:');
    expect(calls.code).toBe(0);
    expect(calls.stdout).toMatch(/^time +request_id/);
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^model +requests/);
    const half = await cli(['calls', ...tls.slice(0, -2)]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--cert-file and --key-file go together');
  });
});

describe('llm-orchestrator CLI over TLS to an IP address', { timeout: 60_000 }, () => {
  // One gateway whose certificate names only the IP, one whose certificate names only localhost.
  let byIp: Harness;
  let byName: Harness;
  let ipCerts: ReturnType<typeof makeCertificates>;
  let nameCerts: ReturnType<typeof makeCertificates>;
  beforeAll(async () => {
    ipCerts = makeCertificates('IP:127.0.0.1');
    nameCerts = makeCertificates('DNS:localhost');
    [byIp, byName] = await Promise.all([
      startHarness({ latencyScale: 0, env: { TLS_CERT_FILE: ipCerts.serverCert, TLS_KEY_FILE: ipCerts.serverKey } }),
      startHarness({ latencyScale: 0, env: { TLS_CERT_FILE: nameCerts.serverCert, TLS_KEY_FILE: nameCerts.serverKey } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([byIp?.close(), byName?.close()]);
  });

  it('checks the certificate against the IP, without a warning on stderr, for every command', async () => {
    const ip = ['--addr', `127.0.0.1:${byIp.app.port}`, '--ca-file', ipCerts.ca];
    const [chat, calls] = await Promise.all([cli(['chat', 'hi', '-m', 'gpt-4o-mini', '-q', ...ip]), cli(['calls', '--limit', '1', ...ip])]);
    expect([chat.code, chat.stderr]).toEqual([0, '']);
    expect([calls.code, calls.stderr]).toEqual([0, '']);
  });

  it('refuses a certificate that does not name the IP, even one that names localhost', async () => {
    const wrong = ['--addr', `127.0.0.1:${byName.app.port}`, '--ca-file', nameCerts.ca];
    const [chat, calls] = await Promise.all([cli(['chat', 'hi', '-m', 'gpt-4o-mini', ...wrong]), cli(['calls', ...wrong])]);
    expect([chat.code, chat.stdout]).toEqual([1, '']);
    expect(chat.stderr).toContain('error: UNAVAILABLE (code 14): ');
    expect(chat.stderr).toContain("IP: 127.0.0.1 is not in the cert's list");
    expect([calls.code, calls.stdout]).toEqual([1, '']);
    expect(calls.stderr).toContain('error: UNAVAILABLE (code 14): ');
    // By its name, the same gateway is trusted.
    const byHostName = await cli([
      'chat',
      'hi',
      '-m',
      'gpt-4o-mini',
      '-q',
      '--addr',
      `localhost:${byName.app.port}`,
      '--ca-file',
      nameCerts.ca,
    ]);
    expect([byHostName.code, byHostName.stderr]).toEqual([0, '']);
  });
});

describe('the built bin (package.json "bin", compiled into dist/)', () => {
  const bin = (JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> }).bin['llm-orchestrator'] ?? '';
  beforeAll(async () => {
    // The compiled output is what `npx llm-orchestrator` runs; build it when it is missing.
    if (!existsSync(bin)) await run('npm', ['run', 'build'], { timeout: 170_000 });
  }, 180_000);

  it('is dist/cli/main.js, starts with a node shebang, and --help exits 0 with the usage', async () => {
    expect(bin).toBe('dist/cli/main.js');
    expect(readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const help = await cli(['--help'], {}, [bin]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: llm-orchestrator');
    expect(help.stdout).toContain('--timeout DURATION');
  });

  it('chat against a real server answers, with the summary on stderr', async () => {
    const result = await cli(['chat', 'hello from the bin', '--model', 'gpt-4o-mini', '--request-id', 'cli-bin-1'], {}, [bin]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Simulated gpt-4o-mini answer on hello/);
    expect(field(result.stderr, 'model')).toBe('gpt-4o-mini (openai)');
    expect(field(result.stderr, 'request id')).toBe('cli-bin-1');
  });
});
