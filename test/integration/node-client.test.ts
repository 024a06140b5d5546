import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatServiceClient, StreamStrategy, type StreamChatRequest, type StreamChatResponse } from '../../clients/node/index.js';
import { accessFile } from '../helpers/access-file.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { makeCertificates } from '../helpers/tls.js';

/** examples/node/client.ts, run as its header says, and the npm package's calls as docs/clients/node.md shows them, against the real server. */
const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the example without blocking the event loop (the server runs in this process). */
async function client(args: string[], at = address): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'examples/node/client.ts', at, ...args], {
      timeout: 9_000,
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

afterAll(async () => {
  await harness?.close();
});

describe('the Node example client', () => {
  it('chat: sends x-request-id, gets it back in the headers and the answer', async () => {
    const result = await client(['chat', 'hello', '--model', 'gpt-4o-mini', '--request-id', 'node-chat-1']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('x-request-id (response header): node-chat-1');
    expect(field(result.stdout, 'model')).toBe('gpt-4o-mini (openai)');
    expect(field(result.stdout, 'content')).toMatch(/^Simulated gpt-4o-mini answer/);
    expect(field(result.stdout, 'usage')).toMatch(/^prompt=[1-9]\d* completion=[1-9]\d* total=[1-9]\d*$/);
    expect(field(result.stdout, 'request_id')).toBe('node-chat-1');
  });

  it('stream: started, the tokens, then the summary; the text is the Chat answer', async () => {
    const [chat, stream] = await Promise.all([
      client(['chat', 'Tell me a story', '--model', 'gpt-4o']),
      client(['stream', 'Tell me a story', '--model', 'gpt-4o']),
    ]);
    expect(stream.code).toBe(0);
    const lines = stream.stdout.split('\n');
    expect(lines[0]).toMatch(/^started: model=gpt-4o provider=openai request_id=\S+$/);
    expect(lines[1]).toBe(field(chat.stdout, 'content'));
    expect(lines[2]).toMatch(/^completed: model=gpt-4o provider=openai time_to_first_token_ms=\d/);
    expect(field(stream.stdout, 'finish_reason')).toBe('FINISH_REASON_STOP');
  });

  it('race: the fast model wins', async () => {
    const result = await client(['race', 'hi', '--models', 'o3,gpt-4o-mini']);
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'winner')).toBe('gpt-4o-mini (openai)');
    expect(result.stdout).toMatch(/\nattempt: o3 CANCELLED /);
  });

  it('decodes ErrorInfo from the status details and exits 1', async () => {
    const result = await client(['chat', 'hi', '--model', 'no-such-model', '--request-id', 'node-err-1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: NOT_FOUND: ');
    expect(result.stderr).toContain('reason: MODEL_NOT_FOUND (domain llm-orchestrator)');
    expect(result.stderr).toContain('  model: no-such-model');
    expect(result.stderr).toContain('request_id: node-err-1');
  });

  it('a --timeout-ms, --temperature or --max-tokens that is not a number of its kind is a usage error (exit 2), not a call', async () => {
    for (const bad of [
      ['--timeout-ms', '5s'],
      ['--timeout-ms', '0'],
      ['--temperature', 'hot'],
      ['--max-tokens', '1.5'],
    ]) {
      const result = await client(['chat', 'hi', ...bad]);
      expect(result.code, bad.join(' ')).toBe(2);
      expect(result.stderr).toContain(`${bad[0]}: `);
      expect(result.stderr).toContain('usage: client.ts ');
      expect(result.stdout).toBe('');
    }
  });

  it('a deadline too short for the model ends with DEADLINE_EXCEEDED', async () => {
    // o3's first token takes 80 ms here, plus its answer.
    const result = await client(['chat', 'hi', '--model', 'o3', '--timeout-ms', '60']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: DEADLINE_EXCEEDED: ');
  });

  it('stream: a deadline mid-answer ends the line of tokens before the error', async () => {
    // Five tokens a second: the first comes at once, the answer would take seconds.
    harness.upstream.injectFault({ kind: 'slow', tokensPerSecond: 5, model: 'gpt-4-turbo', times: 1 });
    const result = await client(['stream', 'Tell me a story', '--model', 'gpt-4-turbo', '--timeout-ms', '1500']);
    expect(result.code).toBe(1);
    const [started, tokens, ...rest] = result.stdout.split('\n');
    expect(started).toMatch(/^started: model=gpt-4-turbo /);
    expect(tokens).toMatch(/^Simulated/);
    expect(rest).toEqual(['']);
    expect(result.stderr).toMatch(/^error: DEADLINE_EXCEEDED: /);
  });
});

describe('@llm-orchestrator/client, as docs/clients/node.md says', () => {
  const story: StreamChatRequest = {
    model: 'gpt-4-turbo',
    prompt: 'Tell me a story',
    messages: [],
    models: [],
    strategy: StreamStrategy.STREAM_STRATEGY_UNSPECIFIED,
    restartOnFailure: false,
  };

  /** Reads a stream, calling `after` once at the second delta; resolves with how it ended. */
  async function read(call: AsyncIterable<unknown>, after: () => void): Promise<{ completed: boolean; code?: number }> {
    let deltas = 0;
    let completed = false;
    try {
      for await (const message of call) {
        const event = (message as StreamChatResponse).event;
        if (event?.$case === 'delta' && ++deltas === 2) after();
        if (event?.$case === 'completed') completed = true;
      }
      return { completed };
    } catch (err) {
      return { completed, code: (err as ServiceError).code };
    }
  }

  it('call.cancel() ends a stream and its upstream request; client.close() lets a call already started run to its end', async () => {
    const cancelling = new ChatServiceClient(address, credentials.createInsecure());
    const before = harness.upstream.requests.length;
    // Paced: at the harness's speed the whole answer could arrive before the cancel does.
    harness.upstream.injectFault({ kind: 'slow', tokensPerSecond: 20, model: 'gpt-4-turbo', times: 1 });
    const cancelled = cancelling.streamChat(story, new Metadata(), { deadline: Date.now() + 20_000 });
    const ended = await read(cancelled, () => cancelled.cancel());
    cancelling.close();
    expect(ended).toEqual({ completed: false, code: status.CANCELLED });
    const outcomes = await eventually(
      async () => harness.upstream.requests.slice(before).map((r) => r.outcome),
      (o) => o.length > 0 && !o.includes('open'),
      10_000,
    );
    expect(outcomes).toEqual(['client_closed']);

    const closing = new ChatServiceClient(address, credentials.createInsecure());
    const running = closing.streamChat(story, new Metadata(), { deadline: Date.now() + 20_000 });
    expect(await read(running, () => closing.close())).toEqual({ completed: true });

    const guide = readFileSync('docs/clients/node.md', 'utf8');
    expect(guide).toContain('`client.close()` does not end the calls already started');
  });
});

describe('the Node example client against a gateway with TLS, client certificates and API keys', () => {
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
    const result = await client(
      ['chat', 'hi', '--model', 'gpt-4o-mini', ...tls(), '--api-key', 'erin-secret'],
      `localhost:${secured.app.port}`,
    );
    expect(result.stderr).not.toContain('Warning');
    expect(result.code).toBe(0);
    expect(field(result.stdout, 'model')).toBe('gpt-4o-mini (openai)');
  });

  it('a wrong API key is UNAUTHENTICATED with its reason', async () => {
    const result = await client(['chat', 'hi', ...tls(), '--api-key', 'wrong'], `localhost:${secured.app.port}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: UNAUTHENTICATED: /m);
    expect(result.stderr).toContain('reason: API_KEY_INVALID (domain llm-orchestrator)');
  });
});
