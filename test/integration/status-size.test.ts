import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FallbackRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A status travels in HTTP/2 trailers, which gRPC's C core (behind Python) and grpc-java cap at
 * 8 KiB by default. A Fallback over 8 models with long ids, each tried 10 times, used to list
 * all 80 attempts in ErrorInfo: about 9 KiB, so a Python client got RESOURCE_EXHAUSTED
 * "received initial metadata size exceeds limit" instead of the call's status.
 */
const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const MODELS = Array.from({ length: 8 }, (_, i) => `team-${i}.a-rather-long-fine-tuned-model-name-for-one-tenant-v${i}`);

/** Calls `method` with the raw `request` from Python's grpcio and prints its code and message as JSON. */
const PY_CALL = `
import grpc, json, sys
channel = grpc.insecure_channel(sys.argv[1])
call = channel.unary_unary(sys.argv[2])
try:
    call(bytes.fromhex(sys.argv[3]), timeout=30)
    print(json.dumps({"code": "OK"}))
except grpc.RpcError as e:
    print(json.dumps({"code": e.code().name, "details": e.details()}))
`;

let h: Harness;
beforeAll(async () => {
  const model = (id: string) =>
    `  - { id: "${id}", provider: openai, upstream_id: gpt-4o-mini, context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 1, family: f, tier: small, quality: 0.5 }\n`;
  const file = writeConfigFile(`models:\n${MODELS.map(model).join('')}`);
  h = await startHarness({
    env: {
      CONFIG_FILE: file,
      RETRY_MAX_ATTEMPTS: '10',
      RETRY_INITIAL_BACKOFF_MS: '1',
      RETRY_MAX_BACKOFF_MS: '1',
      RETRY_BUDGET_MAX_TOKENS: '1000',
      RETRY_BUDGET_TOKEN_RATIO: '1',
      BREAKER_CONSECUTIVE_FAILURES: '1000',
      BREAKER_FAILURE_RATE: '0',
    },
  });
  h.upstream.injectFault({ kind: 'http_error', status: 500 });
});
afterAll(async () => h?.close());

const request = (): FallbackRequest => ({
  model: '',
  prompt: 'hi',
  messages: [],
  models: MODELS,
  disableDefaultMessage: true,
});

describe('the status of a Fallback whose every attempt failed', () => {
  it('reaches a Python client as UNAVAILABLE with its details', async () => {
    const hex = Buffer.from(FallbackRequest.encode(request()).finish()).toString('hex');
    const { stdout } = await run(PYTHON, ['-c', PY_CALL, `127.0.0.1:${h.app.port}`, '/orchestrator.v1.ChatService/Fallback', hex], {
      timeout: 40_000,
    });
    const result = JSON.parse(stdout) as { code: string; details?: string };
    expect(result.code).toBe('UNAVAILABLE');
    expect(result.details).toMatch(/^all 80 attempts failed: /);
  }, 60_000);

  it('lists the first attempts within a byte budget and counts those left out', async () => {
    const err = await unaryError(h.clients.chat.fallback.bind(h.clients.chat), request(), { deadlineMs: 30_000 });
    expect(grpc.status[err.code]).toBe('UNAVAILABLE');
    const metadata = err.decoded.errorInfo?.metadata ?? {};
    const listed = metadata['attempts']?.split(',') ?? [];
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.length).toBeLessThan(80);
    expect(listed[0]).toBe(`${MODELS[0]}:UNAVAILABLE:UPSTREAM_ERROR`);
    expect(Buffer.byteLength(metadata['attempts'] ?? '')).toBeLessThanOrEqual(2_000);
    expect(metadata['attempts_omitted']).toBe(String(80 - listed.length));
    // The last attempt is named whatever the budget left out.
    expect(metadata['last_attempt_model']).toBe(MODELS[7]);
    const db = h.app.ledger.database()?.db;
    await h.app.ledger.store?.flush();
    const rows = await db?.selectFrom('ledger_attempts').select(['call_id', 'model']).execute();
    const perCall = new Map<string, number>();
    for (const row of rows ?? []) perCall.set(row.call_id, (perCall.get(row.call_id) ?? 0) + 1);
    expect([...perCall.values()]).toContain(80);
  }, 60_000);
});
