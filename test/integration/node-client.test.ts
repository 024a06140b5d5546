import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** examples/node/client.ts, run as its header says, against the real server. */
const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the example without blocking the event loop (the server runs in this process). */
async function client(args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'examples/node/client.ts', address, ...args], {
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

  it('a deadline too short for the model ends with DEADLINE_EXCEEDED', async () => {
    // o3's first token takes 80 ms here, plus its answer.
    const result = await client(['chat', 'hi', '--model', 'o3', '--timeout-ms', '60']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: DEADLINE_EXCEEDED: ');
  });
});
