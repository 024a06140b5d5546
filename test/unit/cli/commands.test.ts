import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/cli/args.js';
import { IncompleteStreamError, runCommand } from '../../../src/cli/commands.js';
import { connect } from '../../../src/cli/connection.js';
import {
  ChatServiceService,
  type ChatServiceServer,
  FallbackResponse,
  type FallbackRequest,
  RaceResponse,
  type RaceRequest,
  type StreamChatRequest,
  StreamChatResponse,
} from '../../../src/gen/orchestrator/v1/chat.js';
import { startScriptedGateway, type ScriptedGateway } from '../../helpers/scripted-gateway.js';

/** race, fallback and stream against a scripted ChatService: what they send, what they print, how they end. */
let gateway: ScriptedGateway;
const received: { race: RaceRequest[]; fallback: FallbackRequest[]; stream: StreamChatRequest[] } = { race: [], fallback: [], stream: [] };
/** What the next Fallback answers, and whether the next stream sends its `completed` event. */
const script: { fallback: FallbackResponse; completeStream: boolean } = { fallback: FallbackResponse.fromJSON({}), completeStream: true };

const ATTEMPTS = [
  { model: 'gpt-4o', outcome: 'ATTEMPT_OUTCOME_FAILURE', reason: 'UPSTREAM_ERROR', latencyMs: 12 },
  { model: 'gpt-4o-mini', outcome: 'ATTEMPT_OUTCOME_FAILURE', reason: 'UPSTREAM_ERROR', latencyMs: 8 },
];

beforeAll(async () => {
  const unimplemented = (_call: unknown, callback: grpc.sendUnaryData<never>) => callback({ code: 12, details: 'not scripted' }, null);
  const impl: ChatServiceServer = {
    chat: unimplemented,
    race: (call, callback) => {
      received.race.push(call.request);
      callback(null, RaceResponse.fromJSON({ content: 'raced', model: 'gpt-4o-mini', provider: 'openai', requestId: 'r-race' }));
    },
    fallback: (call, callback) => {
      received.fallback.push(call.request);
      callback(null, script.fallback);
    },
    streamChat: (call) => {
      received.stream.push(call.request);
      call.write(StreamChatResponse.fromJSON({ started: { requestId: 'r-stream', model: 'gpt-4o-mini', provider: 'openai' } }));
      call.write(StreamChatResponse.fromJSON({ delta: { content: 'Half an ans' } }));
      if (script.completeStream) {
        call.write(
          StreamChatResponse.fromJSON({ completed: { finishReason: 'FINISH_REASON_STOP', model: 'gpt-4o-mini', provider: 'openai' } }),
        );
      }
      // Ended with an OK status either way: only the missing event says the answer is cut short.
      call.end();
    },
    batch: (call) => call.end(),
  };
  gateway = await startScriptedGateway([[ChatServiceService, impl]]);
});

afterAll(async () => {
  await gateway?.close();
});

beforeEach(() => {
  received.race.length = 0;
  received.fallback.length = 0;
  received.stream.length = 0;
  script.completeStream = true;
});

/** One command in this process: what it printed on stdout and stderr, or what it threw. */
async function run(...argv: string[]): Promise<{ out: string; info: string; error: unknown }> {
  const options = parseCommandLine([...argv, '--addr', gateway.address], {});
  if (typeof options === 'string') throw new Error(`expected options, got ${options}`);
  const conn = connect(options);
  let out = '';
  let info = '';
  let error: unknown;
  try {
    await runCommand(conn, options, { out: (t) => (out += t), info: (t) => (info += t), track: () => undefined });
  } catch (err) {
    error = err;
  } finally {
    conn.close();
  }
  return { out, info, error };
}

describe('the CLI commands', () => {
  it('race --hedge-ms sends the hedge delay; without it, none', async () => {
    expect((await run('race', 'hi', '--models', 'gpt-4o,gpt-4o-mini', '--hedge-ms', '150')).error).toBeUndefined();
    expect((await run('race', 'hi', '--models', 'gpt-4o,gpt-4o-mini')).error).toBeUndefined();
    expect(received.race.map((r) => [r.models, r.hedgeDelayMs])).toEqual([
      [['gpt-4o', 'gpt-4o-mini'], 150],
      [['gpt-4o', 'gpt-4o-mini'], undefined],
    ]);
  });

  it('fallback: the default message is said to be one, with every failed attempt, never as a model that answered', async () => {
    script.fallback = FallbackResponse.fromJSON({
      content: 'Sorry, try again later.',
      isDefaultMessage: true,
      fallbackTriggered: true,
      attempts: ATTEMPTS,
      requestId: 'r-default',
    });
    const result = await run('fallback', 'hi', '--models', 'gpt-4o,gpt-4o-mini');
    expect(result.error).toBeUndefined();
    expect(result.out).toBe('Sorry, try again later.\n');
    expect(result.info.split('\n')).toEqual([
      'default message: every model failed',
      'attempts: 2',
      '  1. gpt-4o FAILURE UPSTREAM_ERROR 12.0 ms',
      '  2. gpt-4o-mini FAILURE UPSTREAM_ERROR 8.0 ms',
      'request id: r-default',
      '',
    ]);
  });

  it("fallback: a model's answer names the model that answered and whether the chain moved on", async () => {
    script.fallback = FallbackResponse.fromJSON({
      content: 'Hello.',
      model: 'gpt-4o-mini',
      provider: 'openai',
      fallbackTriggered: true,
      attempts: [ATTEMPTS[0], { model: 'gpt-4o-mini', outcome: 'ATTEMPT_OUTCOME_SUCCESS', latencyMs: 5 }],
      requestId: 'r-answer',
    });
    const result = await run('fallback', 'hi', '--models', 'gpt-4o,gpt-4o-mini');
    expect(result.info.split('\n')[0]).toBe('answered by: gpt-4o-mini (openai)');
    expect(result.info).toContain('\nfallback triggered: yes\n');
    expect(result.info).not.toContain('default message');
  });

  it('stream: a stream that ends without its completed event is an incomplete answer, in text and in --json', async () => {
    script.completeStream = false;
    const [text, json] = [await run('stream', 'hi'), await run('stream', 'hi', '--json')];
    expect(text.out).toBe('Half an ans');
    expect(text.error).toBeInstanceOf(IncompleteStreamError);
    expect(json.out.trim().split('\n')).toHaveLength(2);
    expect(json.error).toBeInstanceOf(IncompleteStreamError);
    script.completeStream = true;
    expect((await run('stream', 'hi')).error).toBeUndefined();
  });
});

describe('llm-orchestrator as a process', { timeout: 60_000 }, () => {
  const exec = promisify(execFile);
  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
        timeout: 30_000,
        env: { ...process.env, LLMO_ADDR: gateway.address },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: unknown; stdout?: string; stderr?: string };
      if (typeof e.code !== 'number') throw err;
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  it('stream: a stream that ends without its completed event exits 1, the printed line ended and the reason on stderr', async () => {
    script.completeStream = false;
    const result = await cli('stream', 'hi');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('Half an ans\n');
    expect(result.stderr).toContain('error: the stream ended without a completed event: the answer is incomplete\n');
  });

  it('stream: flags that do not fit together exit 2 naming the flags, and nothing is sent', async () => {
    const results = await Promise.all([
      cli('stream', 'hi', '--models', 'gpt-4o,gpt-4o-mini'),
      cli('stream', 'hi', '--hedge-ms', '50'),
      cli('stream', 'hi', '--route', 'speed', '--strategy', 'race'),
    ]);
    expect(results.map((r) => [r.code, r.stdout])).toEqual(results.map(() => [2, '']));
    expect(results[0]?.stderr).toContain('stream: --models needs --strategy fallback or race');
    expect(results[1]?.stderr).toContain('stream: --hedge-ms needs --strategy race');
    expect(results[2]?.stderr).toContain('stream: --route tries the ranked models in order: leave --strategy out (or fallback), not race');
    expect(received.stream).toEqual([]);
  });
});
