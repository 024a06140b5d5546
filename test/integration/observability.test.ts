import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect as connectHttp2 } from 'node:http2';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { ChatRequest, StreamChatRequest } from '../../src/gen/orchestrator/v1/chat.js';
import { loadConfig } from '../../src/config/config.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { parseTraceparent } from '../../src/telemetry/trace-context.js';
import { eventually } from '../helpers/eventually.js';
import { callUnary, clientsFor, collectStream, streamRequest, unaryError, type Clients } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE}-${PARENT}-01`;

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function scrape(app: App): Promise<string> {
  const url = app.metricsServer?.url;
  if (!url) throw new Error('metrics are off');
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('trace propagation to the upstream', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  beforeEach(() => h.upstream.clearFaults());
  afterAll(async () => {
    await h.close();
  });

  it("sends the caller's trace id with a span id of our own", async () => {
    await callUnary(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o', prompt: 'trace me', messages: [] },
      { metadata: { traceparent: TRACEPARENT, tracestate: 'congo=t61rcWkgMzE' } },
    );
    const headers = h.upstream.requests.at(-1)?.headers;
    const sent = parseTraceparent(headerOf(headers?.traceparent));
    expect(sent).toMatchObject({ traceId: TRACE, flags: 1 });
    expect(sent?.parentId).not.toBe(PARENT);
    expect(headerOf(headers?.tracestate)).toBe('congo=t61rcWkgMzE');
  });

  it('streams carry it too', async () => {
    const { error } = await collectStream(
      h.clients.chat.streamChat(
        streamRequest({ model: 'gpt-4o-mini', prompt: 'stream me' }),
        (() => {
          const md = new grpc.Metadata();
          md.set('traceparent', TRACEPARENT);
          return md;
        })(),
      ),
    );
    expect(error).toBeUndefined();
    expect(parseTraceparent(headerOf(h.upstream.requests.at(-1)?.headers.traceparent))?.traceId).toBe(TRACE);
  });

  it('gives every attempt its own span id in one trace (race)', async () => {
    const before = h.upstream.requests.length;
    await callUnary(
      h.clients.chat.race.bind(h.clients.chat),
      { model: 'gpt-4o', prompt: 'race', messages: [], models: ['gpt-4o', 'gpt-4o-mini'] },
      { metadata: { traceparent: TRACEPARENT } },
    );
    await h.upstream.waitForIdle(2_000);
    const sent = h.upstream.requests.slice(before).map((r) => parseTraceparent(headerOf(r.headers.traceparent)));
    expect(sent).toHaveLength(2);
    expect(sent.every((s) => s?.traceId === TRACE)).toBe(true);
    expect(new Set(sent.map((s) => s?.parentId)).size).toBe(2);
  });

  it('starts a new trace (not sampled) when the caller sent none: retries share it', async () => {
    const own = await startHarness({ env: { RETRY_MAX_ATTEMPTS: '2' } });
    try {
      own.upstream.injectFault({ kind: 'http_error', status: 503, times: 1 });
      await callUnary(own.clients.chat.chat.bind(own.clients.chat), { model: 'gpt-4o', prompt: 'no trace', messages: [] });
      const sent = own.upstream.requests.map((r) => parseTraceparent(headerOf(r.headers.traceparent)));
      expect(sent).toHaveLength(2);
      expect(sent[0]?.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(sent[1]?.traceId).toBe(sent[0]?.traceId);
      expect(sent[1]?.parentId).not.toBe(sent[0]?.parentId);
      expect(sent[0]?.flags).toBe(0);
    } finally {
      await own.close();
    }
  });
});

describe('the Anthropic provider forwards the trace', () => {
  let beta: Simulator;
  let h: Harness;
  beforeAll(async () => {
    beta = await startSimulator({ latencyScale: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'llmo-'));
    const file = join(dir, 'providers.yaml');
    writeFileSync(
      file,
      `providers:
  - { name: beta, kind: anthropic, base_url: "${beta.url}", api_key_env: BETA_KEY }
include_builtin_models: false
models:
  - { id: beta-large, provider: beta, upstream_id: claude-test, context_window: 200000, max_output_tokens: 4000, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9 }
`,
    );
    h = await startHarness({
      noOpenAiShorthand: true,
      env: { CONFIG_FILE: file, DEFAULT_MODEL: 'beta-large' },
      processEnv: { BETA_KEY: 'k' },
    });
  });
  afterAll(async () => {
    await h.close();
    await beta.close();
  });

  it('on /v1/messages', async () => {
    await callUnary(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'beta-large', prompt: 'hi', messages: [] },
      { metadata: { traceparent: TRACEPARENT } },
    );
    expect(parseTraceparent(headerOf(beta.requests.at(-1)?.headers.traceparent))?.traceId).toBe(TRACE);
  });
});

describe('/metrics of a running server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('listens on its own port and counts calls, attempts, tokens, cost, breakers, overhead and time to first token', async () => {
    expect(h.app.metricsServer?.port).toBeGreaterThan(0);
    expect(h.app.metricsServer?.port).not.toBe(h.app.port);
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o', prompt: 'count me', messages: [] });
    await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'stream me' })));
    const text = await scrape(h.app);
    expect(sample(text, 'grpc_server_handled_total', { grpc_method: 'Chat', grpc_code: 'OK' })).toBe(1);
    expect(sample(text, 'grpc_server_handled_total', { grpc_method: 'StreamChat', grpc_type: 'server_stream', grpc_code: 'OK' })).toBe(1);
    expect(sample(text, 'llm_orchestrator_upstream_attempts_total', { provider: 'openai', model: 'gpt-4o', outcome: 'success' })).toBe(1);
    expect(sample(text, 'llm_orchestrator_tokens_total', { model: 'gpt-4o', type: 'output' })).toBe(response.usage?.completionTokens);
    expect(sample(text, 'llm_orchestrator_cost_usd_total', { model: 'gpt-4o' })).toBeCloseTo(response.costUsd, 10);
    expect(sample(text, 'llm_orchestrator_circuit_breaker_state', { model: 'gpt-4o' })).toBe(0);
    expect(sample(text, 'llm_orchestrator_circuit_breaker_state', { model: 'text-embedding-3-small' })).toBe(0);
    expect(sample(text, 'llm_orchestrator_gateway_overhead_seconds_count', { grpc_method: 'Chat' })).toBe(1);
    // In seconds, and a part of the call's duration. How small it is depends on the machine's load (the bench measures it).
    const overhead = sample(text, 'llm_orchestrator_gateway_overhead_seconds_sum', { grpc_method: 'Chat' });
    expect(overhead).toBeGreaterThan(0);
    expect(overhead).toBeLessThan(1);
    expect(overhead).toBeLessThanOrEqual(
      sample(text, 'llm_orchestrator_call_duration_seconds_sum', { grpc_method: 'Chat', model: 'gpt-4o' }) ?? 0,
    );
    expect(sample(text, 'llm_orchestrator_time_to_first_token_seconds_count', { model: 'gpt-4o-mini' })).toBe(1);
    expect(sample(text, 'llm_orchestrator_call_duration_seconds_count', { grpc_method: 'Chat', model: 'gpt-4o' })).toBe(1);
    expect(sample(text, 'llm_orchestrator_call_duration_seconds_count', { grpc_method: 'StreamChat', model: 'gpt-4o-mini' })).toBe(1);
    expect(sample(text, 'llm_orchestrator_in_flight_calls', { grpc_method: 'Chat' })).toBe(0);
    expect(text).toContain('process_resident_memory_bytes');
    // The GetStats counters agree.
    const stats = await callUnary(h.clients.stats.getStats.bind(h.clients.stats), {});
    expect(stats.response.totalRequests).toBe(2);
  });

  it("lists every metric family it exports in the operations guide's table, with its type", async () => {
    const guide = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const documented = new Map<string, string>();
    for (const row of guide.split('\n').filter((l) => l.startsWith('| `'))) {
      const [names = '', type = ''] = row.split('|').slice(1, 3);
      for (const [, name] of names.matchAll(/`([a-z_]+)`/g)) documented.set(name ?? '', type.trim());
    }
    const exported = [...(await scrape(h.app)).matchAll(/^# TYPE ((?:llm_orchestrator|grpc_server)_[a-z_]+) (\w+)$/gm)];
    expect(exported.length).toBeGreaterThan(10);
    const undocumented = exported
      .filter(([, name, type]) => documented.get(name ?? '') !== type)
      .map(([, name, type]) => `${name} ${type}`);
    expect(undocumented).toEqual([]);
  });

  it('shows an open stream while it runs', async () => {
    const call = h.clients.stats.watchStats({ intervalMs: 100 });
    await new Promise((resolve) => call.once('data', resolve));
    const text = await scrape(h.app);
    expect(sample(text, 'llm_orchestrator_open_streams', { grpc_method: 'WatchStats' })).toBe(1);
    call.cancel();
    call.on('error', () => undefined);
  });

  it('METRICS=off starts no endpoint', async () => {
    const off = await startHarness({ env: { METRICS: 'off' } });
    try {
      expect(off.app.metricsServer).toBeUndefined();
      expect(off.app.metrics).toBeUndefined();
    } finally {
      await off.close();
    }
  });
});

describe('the Fallback counter', () => {
  // Its own server: failing every model here would open breakers the other tests need closed.
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('counts a chain no model answered as failed, not as answered by the primary or a fallback', async () => {
    const fallback = h.clients.chat.fallback.bind(h.clients.chat);
    const request = { model: '', prompt: 'count me', messages: [], disableDefaultMessage: true };
    await callUnary(fallback, { ...request, models: ['gpt-4o'] });
    h.upstream.injectFault({ kind: 'http_error', status: 500, times: 3 });
    await unaryError(fallback, { ...request, models: ['gpt-4o'] });
    await unaryError(fallback, { ...request, models: ['gpt-4o', 'gpt-4o-mini'] });
    const text = await scrape(h.app);
    const counted = (result: string) => sample(text, 'llm_orchestrator_fallback_calls_total', { result });
    expect({ primary: counted('primary'), fallback: counted('fallback'), failed: counted('failed') }).toEqual({
      primary: 1,
      fallback: undefined,
      failed: 2,
    });
  });
});

describe('the call log line after the engine wiring', () => {
  const lines: Record<string, unknown>[] = [];
  let app: App;
  let upstream: Simulator;
  let clients: Clients;
  beforeAll(async () => {
    upstream = await startSimulator({ latencyScale: 0 });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
      METRICS_PORT: '0',
      HTTP_PORT: '0',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: upstream.baseURL,
      SIMULATOR: 'off',
      RETRY_MAX_ATTEMPTS: '1',
    });
    app = await startApp(config, createLogger('info', sink), {});
    clients = clientsFor(app.port);
  });
  afterAll(async () => {
    clients.close();
    await app.stop(100);
    await upstream.close();
  });

  it('names the model and provider, tokens, cost, upstream time and overhead', async () => {
    const { response } = await callUnary(
      clients.chat.chat.bind(clients.chat),
      { model: 'gpt-4o', prompt: 'log me', messages: [] },
      { metadata: { traceparent: TRACEPARENT } },
    );
    await new Promise((r) => setTimeout(r, 30));
    const line = lines.find((l) => l.msg === 'call' && l.requestId === response.requestId);
    expect(line).toMatchObject({
      method: '/orchestrator.v1.ChatService/Chat',
      code: 'OK',
      traceId: TRACE,
      model: 'gpt-4o',
      provider: 'openai',
      attempts: 1,
      promptTokens: response.usage?.promptTokens,
      completionTokens: response.usage?.completionTokens,
      costUsd: response.costUsd,
    });
    expect(Number(line?.upstreamMs)).toBeGreaterThan(0);
    // The rest of the duration is the time the request message took to arrive: next to nothing here.
    const accounted = Number(line?.upstreamMs) + Number(line?.overheadMs);
    expect(accounted).toBeLessThanOrEqual(Number(line?.durationMs) + 0.002);
    expect(accounted).toBeGreaterThan(Number(line?.durationMs) - 5);
  });

  it.each([
    ['Chat', ChatRequest.encode(ChatRequest.fromJSON({ model: 'gpt-4o', prompt: 'trickled' })).finish()],
    ['StreamChat', StreamChatRequest.encode(StreamChatRequest.fromJSON({ model: 'gpt-4o', prompt: 'trickled' })).finish()],
  ])("leaves the time a %s request message took to arrive out of the gateway's overhead", async (method, message) => {
    const overhead = async (): Promise<{ sum: number; count: number }> => {
      const text = await scrape(app);
      const labels = { grpc_method: method, protocol: 'grpc' };
      return {
        sum: sample(text, 'llm_orchestrator_gateway_overhead_seconds_sum', labels) ?? 0,
        count: sample(text, 'llm_orchestrator_gateway_overhead_seconds_count', labels) ?? 0,
      };
    };
    const before = await overhead();
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const requestId = `grpc-slow-overhead-${method}`;
    const session = connectHttp2(`http://127.0.0.1:${app.port}`);
    session.on('error', () => undefined);
    await once(session, 'connect');
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': `/orchestrator.v1.ChatService/${method}`,
        'content-type': 'application/grpc',
        te: 'trailers',
        'x-request-id': requestId,
      });
      stream.on('error', () => undefined);
      stream.resume();
      // The headers and part of the message now, the rest of it 300 ms later.
      stream.write(frame.subarray(0, 8));
      await new Promise((r) => setTimeout(r, 300));
      stream.end(frame.subarray(8));
      const status = await new Promise<string>((resolve) => stream.on('trailers', (t) => resolve(String(t['grpc-status']))));
      expect(status).toBe('0');
    } finally {
      session.destroy();
    }
    await new Promise((r) => setTimeout(r, 30));
    const line = lines.find((l) => l.msg === 'call' && l.requestId === requestId);
    // The call itself is timed from its headers, as before.
    expect(Number(line?.durationMs)).toBeGreaterThanOrEqual(280);
    expect(Number(line?.overheadMs)).toBeLessThan(150);
    const after = await overhead();
    expect(after.count - before.count).toBe(1);
    expect(after.sum - before.sum).toBeLessThan(0.15);
  });
});

describe('WatchStats has no default deadline', () => {
  it('outlives DEFAULT_TIMEOUT', async () => {
    const h = await startHarness({ env: { DEFAULT_TIMEOUT: '0.3' } });
    try {
      const call = h.clients.stats.watchStats({ intervalMs: 100 });
      const received: unknown[] = [];
      const errors: unknown[] = [];
      call.on('data', (m) => received.push(m));
      call.on('error', (err) => errors.push(err));
      // The fifth message comes after four 100 ms waits: past the 300 ms default deadline, however slow the machine.
      await eventually(
        async () => received.length,
        (n) => n >= 5 || errors.length > 0,
        10_000,
      );
      expect(errors).toEqual([]);
      expect(received.length).toBeGreaterThanOrEqual(5);
      call.cancel();
    } finally {
      await h.close();
    }
  });
});
