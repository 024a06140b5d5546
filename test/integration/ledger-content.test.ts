import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheMode, type ChatRequest, type StreamChatResponse, type ToolOptions } from '../../src/gen/orchestrator/v1/chat.js';
import * as grpc from '@grpc/grpc-js';
import { type Message, Role } from '../../src/gen/orchestrator/v1/common.js';
import { UsageServiceClient } from '../../src/gen/orchestrator/v1/usage.js';
import { callUnary, collectStream, streamRequest, chatMessage } from '../helpers/grpc-client.js';
import { eventually } from '../helpers/eventually.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** LEDGER_CONTENT=full keeps what was asked and what was answered, streamed or not. */

const text = (messages: StreamChatResponse[]) => messages.map((m) => (m.event?.$case === 'delta' ? m.event.delta.content : '')).join('');

describe('LEDGER_CONTENT=full', () => {
  let h: Harness;
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'llmo-ledger-content-')), 'ledger.db');
    h = await startHarness({ env: { DATABASE_URL: `sqlite:${file}`, LEDGER_CONTENT: 'full', LEDGER_FLUSH_MS: '20' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function rows() {
    const db = h.app.ledger.database()?.db;
    if (!db) throw new Error('ledger not open');
    await h.app.ledger.store?.flush();
    return db.selectFrom('ledger_calls').select(['method', 'request_id', 'prompt', 'answer', 'model', 'provider']).orderBy('ts').execute();
  }

  it('records the prompt and the whole answer of a Chat and of a StreamChat', async () => {
    const unary = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: 'gpt-4o-mini',
      prompt: 'first question',
      messages: [],
    });
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'second question' })));
    expect(streamed.error).toBeUndefined();
    const streamedText = text(streamed.messages);
    expect(streamed.messages.filter((m) => m.event?.$case === 'delta').length).toBeGreaterThan(1);
    const recorded = await rows();
    expect(recorded.map(({ request_id: _, model: _m, provider: _p, ...r }) => r)).toEqual([
      { method: '/orchestrator.v1.ChatService/Chat', prompt: 'first question', answer: unary.response.content },
      { method: '/orchestrator.v1.ChatService/StreamChat', prompt: 'second question', answer: streamedText },
    ]);
  });

  it('records the text a stream relayed before its client cancelled it, or before the upstream cut it, and the model it came from', async () => {
    h.upstream.injectFault({ kind: 'slow', tokensPerSecond: 20, model: 'gpt-4o', times: 1 });
    const call = h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o', prompt: 'cancelled midway' }));
    call.on('error', () => undefined);
    let sent = '';
    await new Promise<void>((resolve) => {
      let deltas = 0;
      call.on('data', (m: StreamChatResponse) => {
        if (m.event?.$case !== 'delta') return;
        sent += m.event.delta.content;
        if (++deltas === 3) resolve();
      });
    });
    call.cancel();
    h.upstream.injectFault({ kind: 'cut', afterTokens: 4, model: 'gpt-4o-mini', times: 1 });
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'cut midway' }] }),
    });
    const body = await res.text();
    expect(body).toContain('event: error');
    const relayed = body
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '')
      .join('');
    expect(relayed).not.toBe('');
    const recorded = await eventually(
      rows,
      (r) => r.some((x) => x.prompt === 'cancelled midway') && r.some((x) => x.prompt === 'cut midway'),
    );
    const cancelled = recorded.find((r) => r.prompt === 'cancelled midway')?.answer ?? '';
    // Deltas already relayed may still be on their way to a client that stopped reading.
    expect(cancelled.startsWith(sent)).toBe(true);
    expect(recorded.find((r) => r.prompt === 'cut midway')?.answer).toBe(relayed);
    // The model whose text the client was sent, as GetUsage groups its cost.
    expect(recorded.find((r) => r.prompt === 'cancelled midway')).toMatchObject({ model: 'gpt-4o', provider: 'openai' });
    expect(recorded.find((r) => r.prompt === 'cut midway')).toMatchObject({ model: 'gpt-4o-mini', provider: 'openai' });
  });

  it('records the tool calls of an answer that called tools, streamed or not', async () => {
    const tooling: ToolOptions = {
      tools: [
        {
          name: 'get_weather',
          description: 'weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
          strict: false,
        },
      ],
      toolChoice: { choice: { $case: 'function', function: 'get_weather' } },
    };
    const cache = { mode: CacheMode.CACHE_MODE_BYPASS, allowStale: false };
    const unary = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: 'gpt-4o-mini',
      prompt: 'weather in Paris',
      messages: [],
      tooling,
      cache,
    });
    expect(unary.response.toolCalls.length).toBeGreaterThan(0);
    const streamed = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'weather in Oslo', tooling })),
    );
    expect(streamed.error).toBeUndefined();
    const completed = streamed.messages.at(-1)?.event;
    const streamedCalls = completed?.$case === 'completed' ? completed.completed.toolCalls : [];
    expect(streamedCalls.length).toBeGreaterThan(0);
    const recorded = await rows();
    const answerOf = (requestId: string) => recorded.find((r) => r.request_id === requestId)?.answer;
    const calls = (c: readonly { id: string; name: string; arguments: string }[]) =>
      `tool_calls: ${JSON.stringify(c.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })))}`;
    expect(answerOf(unary.response.requestId)).toBe(calls(unary.response.toolCalls));
    const streamedRow = recorded.find((r) => r.prompt === 'weather in Oslo');
    expect(streamedRow?.answer).toBe(calls(streamedCalls));
  });

  it("records the tool calls of a conversation as it records an answer's, alike through both doors, hashed with them", async () => {
    const weather = { type: 'object', properties: { city: { type: 'string' } } };
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
    const message = (role: Role, content: string, extra: Partial<Message> = {}): Message => chatMessage({ role, content, ...extra });
    const overGrpc = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: 'gpt-4o-mini',
      prompt: '',
      messages: [
        message(Role.ROLE_USER, 'weather in Paris?'),
        message(Role.ROLE_ASSISTANT, '', { toolCalls: [call] }),
        message(Role.ROLE_TOOL, 'sunny', { toolCallId: 'call_1' }),
      ],
      tooling: { tools: [{ name: 'get_weather', description: 'weather', parameters: weather, strict: false }] },
    });
    const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        tools: [{ type: 'function', function: { name: 'get_weather', description: 'weather', parameters: weather } }],
        messages: [
          { role: 'user', content: 'weather in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        ],
      }),
    });
    const overHttp = (await res.json()) as { id: string };
    expect(res.status).toBe(200);
    const db = h.app.ledger.database()?.db;
    await h.app.ledger.store?.flush();
    const stored = await db
      ?.selectFrom('ledger_calls')
      .select(['prompt', 'prompt_sha256'])
      .where('request_id', 'in', [overGrpc.response.requestId, overHttp.id])
      .execute();
    const prompt = `weather in Paris?\ntool_calls: ${JSON.stringify([call])}\nsunny`;
    const sha256 = createHash('sha256').update(prompt).digest('hex');
    expect(stored).toEqual([
      { prompt, prompt_sha256: sha256 },
      { prompt, prompt_sha256: sha256 },
    ]);
  });

  it("keeps no content for a Batch, whose items' prompts are several: no text and no hash of one item's", async () => {
    const item = (prompt: string) => ({ model: 'gpt-4o-mini', prompt, messages: [] }) as unknown as ChatRequest;
    const batch = await collectStream(
      h.clients.chat.batch({
        items: [
          { requestId: 'one', request: item('batch one') },
          { requestId: 'two', request: item('batch two') },
        ],
      }),
    );
    expect(batch.error).toBeUndefined();
    const db = h.app.ledger.database()?.db;
    await h.app.ledger.store?.flush();
    const row = await db
      ?.selectFrom('ledger_calls')
      .select(['prompt', 'answer', 'prompt_sha256'])
      .where('method', '=', '/orchestrator.v1.ChatService/Batch')
      .executeTakeFirst();
    expect(row).toEqual({ prompt: null, answer: null, prompt_sha256: null });
  });
});

describe('ListCalls of calls with long prompts (LEDGER_CONTENT=full)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { LEDGER_CONTENT: 'full', LEDGER_FLUSH_MS: '20', MAX_CONTENT_CHARS: '200000' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps each page within the 4 MiB a gRPC client takes by default, and pages through every call', async () => {
    const CALLS = 25;
    for (let i = 0; i < CALLS; i++) {
      await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
        model: 'gpt-4o-mini',
        prompt: `${i} ${'x'.repeat(199_000)}`,
        messages: [],
      });
    }
    await h.app.ledger.store?.flush();
    // A client with grpc-js's defaults: it refuses a message over 4 MiB.
    const usage = new UsageServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    try {
      const seen: string[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const page = (await callUnary(usage.listCalls.bind(usage), { requestId: '', pageSize: 50, pageToken })).response;
        seen.push(...page.calls.map((c) => c.prompt.split(' ')[0] ?? ''));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken && pages < CALLS);
      expect(pages).toBeGreaterThan(1);
      expect(seen).toEqual(Array.from({ length: CALLS }, (_, i) => String(CALLS - 1 - i)));
    } finally {
      usage.close();
    }
  }, 60_000);
});
