import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageGroup, UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { accessFile } from '../helpers/access-file.js';
import { callUnary, unaryError } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** The ledger listens on the event port: a call through either door is one row, named by its protocol. */
describe('the ledger records calls through both doors', () => {
  let h: Harness;
  let usage: UsageServiceClient;
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-doors-')), 'ledger.db');
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${file}`, LEDGER_FLUSH_MS: '20' } });
    usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    usage?.close();
    await h?.close();
  });

  it('an HTTP chat completion and a gRPC Chat both appear in ListCalls and GetUsage with their protocol and cost', async () => {
    const overGrpc = (
      await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'over grpc', messages: [] })
    ).response;
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-call-1' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'over http' }] }),
    });
    expect(res.status).toBe(200);
    const overHttp = (await res.json()) as { usage: { total_tokens: number }; x_orchestrator: { cost_usd: number } };
    // A body refused before its route ran reached no service and had no key checked: no row.
    const unread = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(unread.status).toBe(400);
    await h.app.ledger.store?.flush();

    const list = usage.listCalls.bind(usage);
    const calls = (await callUnary(list, { requestId: '', pageSize: 10, pageToken: '' })).response.calls;
    expect(calls.map((c) => [c.protocol, c.method, c.model])).toEqual([
      ['http', '/orchestrator.v1.ChatService/ChatCompletions', 'gpt-4o'],
      ['grpc', '/orchestrator.v1.ChatService/Chat', 'gpt-4o-mini'],
    ]);
    const [httpRow, grpcRow] = calls;
    expect(httpRow).toMatchObject({ requestId: 'http-call-1', requestedModel: 'gpt-4o' });
    expect(httpRow?.costUsd).toBeCloseTo(overHttp.x_orchestrator.cost_usd, 10);
    expect(httpRow?.usage?.totalTokens).toBe(overHttp.usage.total_tokens);
    expect(httpRow?.attempts.map((a) => [a.model, a.outcome])).toHaveLength(1);
    expect(grpcRow?.costUsd).toBeCloseTo(overGrpc.costUsd, 10);
    expect(grpcRow?.requestId).toBe(overGrpc.requestId);

    const byMethod = (await callUnary(usage.getUsage.bind(usage), { groupBy: [UsageGroup.USAGE_GROUP_METHOD], pageSize: 0, pageToken: '' }))
      .response.rows;
    const row = (m: string) => byMethod.find((r) => r.method === `/orchestrator.v1.ChatService/${m}`);
    expect(row('ChatCompletions')).toMatchObject({ requests: 1, successful: 1 });
    expect(row('ChatCompletions')?.costUsd).toBeCloseTo(overHttp.x_orchestrator.cost_usd, 10);
    expect(row('Chat')?.costUsd).toBeCloseTo(overGrpc.costUsd, 10);
  });

  it('a chain or racers are the requested model, listed alike whichever door named them', async () => {
    const http = (id: string, orchestrator: unknown) =>
      fetch(`${h.app.http!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a chain' }], orchestrator }),
      });
    expect((await http('http-fallback', { strategy: 'fallback', models: ['gpt-4o-mini'] })).status).toBe(200);
    expect((await http('http-race', { strategy: 'race', models: ['gpt-4o-mini'] })).status).toBe(200);
    const asked = { prompt: 'a chain', messages: [] };
    const md = (id: string) => ({ metadata: { 'x-request-id': id } });
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    await callUnary(
      fallback,
      { ...asked, model: '', models: ['gpt-4o', 'gpt-4o-mini'], disableDefaultMessage: false },
      md('grpc-fallback'),
    );
    // The racers named replace `model`, which is then not called.
    await callUnary(h.clients.chat.race.bind(h.clients.chat), { ...asked, model: 'gpt-4o', models: ['gpt-4o-mini'] }, md('grpc-race'));
    await h.app.ledger.store?.flush();
    const requested = async (id: string) =>
      (await callUnary(usage.listCalls.bind(usage), { requestId: id, pageSize: 1, pageToken: '' })).response.calls[0]?.requestedModel;
    expect(await requested('http-fallback')).toBe('gpt-4o,gpt-4o-mini');
    expect(await requested('http-race')).toBe('gpt-4o,gpt-4o-mini');
    expect(await requested('grpc-fallback')).toBe('gpt-4o,gpt-4o-mini');
    expect(await requested('grpc-race')).toBe('gpt-4o-mini');
  });

  it('a refused HTTP call is recorded with its reason', async () => {
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-unknown-model' },
      body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(404);
    await h.app.ledger.store?.flush();
    const calls = (await callUnary(usage.listCalls.bind(usage), { requestId: 'http-unknown-model', pageSize: 10, pageToken: '' })).response
      .calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ protocol: 'http', code: 5, reason: 'MODEL_NOT_FOUND', requestedModel: 'no-such-model' });
  });

  it('an HTTP request whose body cannot be read never reached the service: not recorded', async () => {
    const rows = async () => {
      await h.app.ledger.store?.flush();
      return (await h.app.ledger.database()?.db.selectFrom('ledger_calls').select('request_id').execute())?.length;
    };
    const before = await rows();
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": "gpt-4o-mini", "messages": [',
    });
    expect(res.status).toBe(400);
    expect(await rows()).toBe(before);
  });
});

describe('a call refused for its API key', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { CONFIG_FILE: accessFile(), LEDGER_FLUSH_MS: '20' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is not recorded, through either door; a call with a valid key is', async () => {
    const chat = h.clients.chat.chat.bind(h.clients.chat);
    const refused = await unaryError(
      chat,
      { model: 'gpt-4o-mini', prompt: 'no key', messages: [] },
      { metadata: { 'x-request-id': 'grpc-bad-key' } },
    );
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-key', 'x-request-id': 'http-bad-key' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'wrong key' }] }),
    });
    expect(res.status).toBe(401);
    await callUnary(
      chat,
      { model: 'gpt-4o-mini', prompt: 'a good key', messages: [] },
      { metadata: { authorization: 'Bearer erin-secret', 'x-request-id': 'good-key' } },
    );
    await h.app.ledger.store?.flush();
    const db = h.app.ledger.database()?.db;
    const rows = await db?.selectFrom('ledger_calls').select(['request_id', 'code']).orderBy('ts').execute();
    expect(rows).toEqual([{ request_id: 'good-key', code: 'OK' }]);
  });
});
