import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatRequest, FallbackRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { RoutingProfile } from '../../src/gen/orchestrator/v1/common.js';
import { sha } from '../helpers/access-file.js';
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

/** Calls a method with a raw request (and an API key) from Python's grpcio and prints its code and message as JSON. */
const PY_CALL = `
import grpc, json, sys
channel = grpc.insecure_channel(sys.argv[1])
call = channel.unary_unary(sys.argv[2])
metadata = [("authorization", "Bearer " + sys.argv[4])] if len(sys.argv) > 4 else None
try:
    call(bytes.fromhex(sys.argv[3]), timeout=30, metadata=metadata)
    print(json.dumps({"code": "OK"}))
except grpc.RpcError as e:
    print(json.dumps({"code": e.code().name, "details": e.details()}))
`;

async function fromPython(port: number, method: string, request: Uint8Array, key?: string): Promise<{ code: string; details?: string }> {
  const args = ['-c', PY_CALL, `127.0.0.1:${port}`, method, Buffer.from(request).toString('hex'), ...(key ? [key] : [])];
  const { stdout } = await run(PYTHON, args, { timeout: 40_000 });
  return JSON.parse(stdout) as { code: string; details?: string };
}

const modelEntry = (id: string) =>
  `  - { id: "${id}", provider: openai, upstream_id: gpt-4o-mini, context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 1, family: f, tier: small, quality: 0.5 }\n`;

let h: Harness;
beforeAll(async () => {
  const file = writeConfigFile(`models:\n${MODELS.map(modelEntry).join('')}`);
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
    const result = await fromPython(h.app.port, '/orchestrator.v1.ChatService/Fallback', FallbackRequest.encode(request()).finish());
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

describe('the status of a route over a large catalog that the key may call none of', () => {
  // A route over every model names each one it refused, in ErrorInfo's `models`: 300 models made
  // a status of 13 KB.
  let big: Harness;
  beforeAll(async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `vendor-${i}.some-fine-tuned-model-name-v${i}`);
    const key = `    - { name: kim, sha256: ${sha('kim-secret')}, allowed_models: ["elsewhere-*"] }\n`;
    const file = writeConfigFile(`access:\n  api_keys:\n${key}models:\n${ids.map(modelEntry).join('')}`);
    big = await startHarness({ env: { CONFIG_FILE: file } });
  });
  afterAll(async () => big?.close());

  const routed: ChatRequest = {
    model: '',
    prompt: 'hi',
    messages: [],
    route: { profile: RoutingProfile.ROUTING_PROFILE_BALANCED, candidates: [] },
  };

  it('reaches a Python client as PERMISSION_DENIED', async () => {
    const result = await fromPython(big.app.port, '/orchestrator.v1.ChatService/Chat', ChatRequest.encode(routed).finish(), 'kim-secret');
    expect(result.code).toBe('PERMISSION_DENIED');
    expect(result.details).toMatch(/^API key "kim" may not call any candidate of this route/);
  }, 60_000);

  it('names the first models, cut within the budget', async () => {
    const err = await unaryError(big.clients.chat.chat.bind(big.clients.chat), routed, {
      metadata: { authorization: 'Bearer kim-secret' },
    });
    expect(grpc.status[err.code]).toBe('PERMISSION_DENIED');
    expect(err.decoded.errorInfo?.reason).toBe('MODEL_NOT_ALLOWED');
    const models = err.decoded.errorInfo?.metadata['models'] ?? '';
    expect(models).toMatch(/^[^,]+,[^,]+,.*…$/);
    expect(Buffer.byteLength(models)).toBeLessThanOrEqual(1_000);
  });
});
