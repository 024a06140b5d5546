import { once } from 'node:events';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { eventually } from '../helpers/eventually.js';
import { captureLines } from '../helpers/log-lines.js';

/** The cross-cutting behaviour of a gRPC call, for an HTTP call: log line, trace, stats, metrics. */

const { lines, sink } = captureLines();

let app: App;
let upstream: Simulator;
let client: OpenAI;
beforeAll(async () => {
  upstream = await startSimulator({ latencyScale: 0 });
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    HTTP_PORT: '0',
    METRICS_PORT: '0',
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: upstream.baseURL,
    SIMULATOR: 'off',
    RETRY_MAX_ATTEMPTS: '1',
  });
  app = await startApp(config, createLogger('info', sink), {});
  client = new OpenAI({ baseURL: `${app.http!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await app.stop(100);
  await upstream.close();
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** The first line that matches, once written: an HTTP call's line comes after its response is sent. */
const logged = (match: (line: Record<string, unknown>) => boolean) =>
  eventually(
    async () => lines.find(match),
    (line) => line !== undefined,
  );

describe('HTTP calls share the gRPC call telemetry', () => {
  it('logs the port it picked for HTTP_PORT=0', () => {
    const started = lines.find((l) => l.msg === 'llm-orchestrator listening');
    expect(started?.httpPort).toBe(app.http?.port);
    // The start-up line names the version that is running.
    expect(started?.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('writes one call line with request id, model, tokens, cost and trace id, and sends the trace upstream', async () => {
    const { data } = await client.chat.completions
      .create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'log me' }] },
        { headers: { 'x-request-id': 'http-log-1', traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } },
      )
      .withResponse();
    const line = await logged((l) => l.msg === 'call' && l.requestId === 'http-log-1');
    expect(line).toMatchObject({
      protocol: 'http',
      method: 'POST /v1/chat/completions',
      status: 200,
      code: 'OK',
      model: 'gpt-4o-mini',
      provider: 'openai',
      attempts: 1,
      promptTokens: data.usage?.prompt_tokens,
      completionTokens: data.usage?.completion_tokens,
      traceId: TRACE,
    });
    expect(line?.costUsd).toBeGreaterThan(0);
    expect(String(upstream.requests.at(-1)?.headers.traceparent)).toContain(TRACE);
  });

  it('logs refusals as warnings with the code', async () => {
    await client.chat.completions
      .create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-request-id': 'http-log-2' } })
      .catch(() => undefined);
    expect(await logged((l) => l.msg === 'call' && l.requestId === 'http-log-2')).toMatchObject({
      level: 'warn',
      status: 404,
      code: 'NOT_FOUND',
    });
  });

  it('logs a body refused before any route ran with the request id the client got', async () => {
    const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-log-bad-json' },
      body: '{"model":',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toBe('http-log-bad-json');
    const line = await logged((l) => l.requestId === 'http-log-bad-json');
    // A call line like any other call's: the gRPC status name, the duration, the peer and the trace.
    expect(line).toMatchObject({
      msg: 'call',
      level: 'warn',
      protocol: 'http',
      method: 'POST /v1/chat/completions',
      status: 400,
      code: 'INVALID_ARGUMENT',
    });
    expect(line?.durationMs).toBeGreaterThan(0);
    expect(line?.peer).toMatch(/^(127\.0\.0\.1|::ffff:127\.0\.0\.1):\d+$/);
    expect(line?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(line?.details).toMatch(/JSON/);
  });

  it('writes the call line of a body over MAX_MESSAGE_BYTES with RESOURCE_EXHAUSTED, the code metrics count it as', async () => {
    const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-log-too-large' },
      body: JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(await logged((l) => l.requestId === 'http-log-too-large')).toMatchObject({
      msg: 'call',
      level: 'warn',
      status: 413,
      code: 'RESOURCE_EXHAUSTED',
    });
  });

  it('leaves the query string, where a client may have put a key, out of the line of a refused body', async () => {
    const res = await fetch(`${app.http!.url}/v1/chat/completions?api_key=sk-in-the-url`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-log-query' },
      body: '{"model":',
    });
    expect(res.status).toBe(400);
    const line = await logged((l) => l.requestId === 'http-log-query');
    expect(line).toMatchObject({ method: 'POST /v1/chat/completions', status: 400 });
    expect(JSON.stringify(lines)).not.toContain('sk-in-the-url');
  });

  it('logs a stream that failed after its first chunk as a warning with the details, as gRPC does', async () => {
    upstream.injectFault({ kind: 'cut', afterTokens: 2, times: 1 });
    const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-log-cut' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'cut me' }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('event: error');
    const line = await logged((l) => l.msg === 'call' && l.requestId === 'http-log-cut');
    expect(line).toMatchObject({ level: 'warn', status: 200, code: 'UNAVAILABLE' });
    expect(line?.details).toMatch(/ended early/);
  });

  it("bounds the details of a refusal that quotes the client's own text, as a gRPC status message is", async () => {
    const long = 'M'.repeat(100_000);
    const bodies = [
      { model: long, input: 'x' },
      { model: 'gpt-4o-mini', messages: [{ role: long, content: 'x' }] },
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], [long]: 1 },
    ];
    for (const [i, body] of bodies.entries()) {
      const res = await fetch(`${app.http!.url}/v1/${i === 0 ? 'embeddings' : 'chat/completions'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `http-log-long-${i}` },
        body: JSON.stringify(body),
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      const line = await logged((l) => l.msg === 'call' && l.requestId === `http-log-long-${i}`);
      expect(line?.level).toBe('warn');
      expect(Buffer.byteLength(String(line?.details))).toBeLessThanOrEqual(512);
      expect(line?.details).toMatch(/^(unknown model|invalid request).*…$/);
    }
  });

  it('names the peer of a client that went away mid-stream, as of a call that ended normally', async () => {
    upstream.injectFault({ kind: 'slow', tokensPerSecond: 5, times: 1 });
    const aborter = new AbortController();
    const res = await fetch(`${app.http!.url}/v1/chat/completions`, {
      method: 'POST',
      signal: aborter.signal,
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-log-gone' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'leave me' }] }),
    });
    await res.body?.getReader().read();
    aborter.abort();
    const line = await logged((l) => l.msg === 'call' && l.requestId === 'http-log-gone');
    expect(line).toMatchObject({ code: 'CANCELLED' });
    expect(line?.peer).toMatch(/^(127\.0\.0\.1|::ffff:127\.0\.0\.1):\d+$/);
  });

  it('counts requests refused before any route ran in the Prometheus metrics, as gRPC counts its unreadable ones', async () => {
    const handled = async (method: string, code: string): Promise<number> => {
      const metrics = await (await fetch(app.metricsServer!.url)).text();
      const service = method === 'Embed' ? 'EmbeddingService' : 'ChatService';
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith('grpc_server_handled_total{') &&
            l.includes(`grpc_service="orchestrator.v1.${service}",grpc_method="${method}"`) &&
            l.includes(`grpc_code="${code}",protocol="http"`),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const post = (path: string, headers: Record<string, string>, body: string | Buffer) =>
      fetch(`${app.http!.url}${path}`, { method: 'POST', headers, body });
    const before = {
      invalid: await handled('ChatCompletions', 'INVALID_ARGUMENT'),
      tooLarge: await handled('ChatCompletions', 'RESOURCE_EXHAUSTED'),
      embed: await handled('Embed', 'INVALID_ARGUMENT'),
    };
    const statuses = [
      (await post('/v1/chat/completions', { 'content-type': 'application/json' }, '{"model":')).status,
      (await post('/v1/chat/completions', { 'content-type': 'text/plain' }, 'hello')).status,
      (
        await post(
          '/v1/chat/completions',
          { 'content-type': 'application/json', 'content-encoding': 'gzip' },
          Buffer.from([0x1f, 0x8b, 8, 0]),
        )
      ).status,
      (await post('/v1/chat/completions', { 'content-type': 'application/json' }, JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) })))
        .status,
      (await post('/v1/embeddings', { 'content-type': 'application/json' }, '[')).status,
    ];
    expect(statuses).toEqual([400, 415, 415, 413, 400]);
    expect({
      invalid: (await handled('ChatCompletions', 'INVALID_ARGUMENT')) - before.invalid,
      tooLarge: (await handled('ChatCompletions', 'RESOURCE_EXHAUSTED')) - before.tooLarge,
      embed: (await handled('Embed', 'INVALID_ARGUMENT')) - before.embed,
    }).toEqual({ invalid: 3, tooLarge: 1, embed: 1 });
  });

  it('times a refused request from its arrival, its body read included, as gRPC times a call from its arrival', async () => {
    const handlingSum = async (): Promise<number> => {
      const metrics = await (await fetch(app.metricsServer!.url)).text();
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith('grpc_server_handling_seconds_sum{') &&
            l.includes('grpc_method="ChatCompletions"') &&
            l.includes('protocol="http"'),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const before = await handlingSum();
    const url = new URL(app.http!.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    const body = '{"model":"gpt-4o-mini",';
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nX-Request-Id: http-slow-bad-json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.end(body.slice(5));
    const line = await logged((l) => l.requestId === 'http-slow-bad-json');
    socket.destroy();
    expect(line?.status).toBe(400);
    expect((await handlingSum()) - before).toBeGreaterThanOrEqual(0.25);
  });

  it('times an accepted call from its arrival too, its body read included', async () => {
    const url = new URL(app.http!.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'trickled' }] });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nX-Request-Id: http-slow-good-json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    for (const part of [body.slice(5, 20), body.slice(20, 30)]) {
      await new Promise((r) => setTimeout(r, 100));
      socket.write(part);
    }
    await new Promise((r) => setTimeout(r, 100));
    socket.write(body.slice(30));
    const line = await logged((l) => l.msg === 'call' && l.requestId === 'http-slow-good-json');
    socket.destroy();
    expect(line?.status).toBe(200);
    expect(line?.durationMs).toBeGreaterThanOrEqual(280);
  });

  it("leaves the time a body took to arrive out of the gateway's overhead and the model's routing latency", async () => {
    const model = 'gpt-3.5-turbo';
    const overhead = async (): Promise<{ sum: number; count: number }> => {
      const metrics = (await (await fetch(app.metricsServer!.url)).text()).split('\n');
      const value = (name: string): number => {
        const line = metrics.find(
          (l) => l.startsWith(`${name}{`) && l.includes('grpc_method="ChatCompletions"') && l.includes('protocol="http"'),
        );
        return line ? Number(line.split(' ').at(-1)) : 0;
      };
      return {
        sum: value('llm_orchestrator_gateway_overhead_seconds_sum'),
        count: value('llm_orchestrator_gateway_overhead_seconds_count'),
      };
    };
    const expectedLatencyMs = async (): Promise<number> => {
      const ranking = (await (await fetch(`${app.http!.url}/v1/models/rankings?candidates=${model}`)).json()) as {
        ranking: { model: string; expected_latency_ms: number }[];
      };
      return ranking.ranking.find((c) => c.model === model)!.expected_latency_ms;
    };
    // Quick answers first, so the model's live figure sits near what the upstream takes.
    for (let i = 0; i < 5; i++) await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'quick' }] });
    const before = { overhead: await overhead(), latencyMs: await expectedLatencyMs() };
    const url = new URL(app.http!.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'trickled' }] });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nX-Request-Id: http-slow-overhead\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(10));
    const line = await logged((l) => l.msg === 'call' && l.requestId === 'http-slow-overhead');
    socket.destroy();
    // The call itself is timed from its arrival, as before.
    expect(line?.status).toBe(200);
    expect(line?.durationMs).toBeGreaterThanOrEqual(280);
    expect(line?.overheadMs).toBeLessThan(150);
    const after = await overhead();
    expect(after.count - before.overhead.count).toBe(1);
    expect(after.sum - before.overhead.sum).toBeLessThan(0.15);
    expect((await expectedLatencyMs()) - before.latencyMs).toBeLessThan(50);
  });

  it('counts a request whose client went away while its body was arriving as CANCELLED, not as a refusal', async () => {
    const handled = async (code: string): Promise<number> => {
      const metrics = await (await fetch(app.metricsServer!.url)).text();
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith('grpc_server_handled_total{') && l.includes('grpc_method="ChatCompletions"') && l.includes(`grpc_code="${code}"`),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const before = { cancelled: await handled('CANCELLED'), invalid: await handled('INVALID_ARGUMENT') };
    const url = new URL(app.http!.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.write(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nX-Request-Id: http-gone-mid-body\r\n' +
        'Content-Length: 1000\r\n\r\n{"model":"gpt-4o-mini",',
    );
    // The headers are read and the route chosen before the client leaves.
    await new Promise((r) => setTimeout(r, 100));
    const peer = `${socket.localAddress}:${socket.localPort}`;
    socket.destroy();
    const counted = await eventually(
      async () => ({
        cancelled: (await handled('CANCELLED')) - before.cancelled,
        invalid: (await handled('INVALID_ARGUMENT')) - before.invalid,
      }),
      (c) => c.cancelled + c.invalid > 0,
    );
    expect(counted).toEqual({ cancelled: 1, invalid: 0 });
    expect(lines.find((l) => l.requestId === 'http-gone-mid-body')).toMatchObject({
      msg: 'call',
      level: 'info',
      protocol: 'http',
      method: 'POST /v1/chat/completions',
      code: 'CANCELLED',
      // Who went away, as every call line says who called.
      peer,
    });
  });

  it('counts completions in /v1/stats and in the Prometheus metrics', async () => {
    const before = (await (await fetch(`${app.http!.url}/v1/stats`)).json()) as {
      total_requests: number;
      methods: { method: string; requests: number }[];
    };
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count me' }] });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'count me' }],
      stream: true,
    });
    for await (const _ of stream) void _;
    const after = (await (await fetch(`${app.http!.url}/v1/stats`)).json()) as typeof before;
    expect(after.total_requests - before.total_requests).toBe(2);
    expect(after.methods.find((m) => m.method === 'ChatCompletions')?.requests).toBeGreaterThanOrEqual(1);
    expect(after.methods.find((m) => m.method === 'ChatCompletionsStream')?.requests).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(app.metricsServer!.url)).text();
    expect(metrics).toMatch(
      /grpc_server_handled_total\{grpc_service="orchestrator\.v1\.ChatService",grpc_method="ChatCompletions",grpc_type="unary",grpc_code="OK",protocol="http"\} [1-9]/,
    );
    // Counted apart from gRPC calls: the protocol label tells the two front doors apart.
    expect(metrics).not.toMatch(/grpc_server_handled_total\{[^}]*grpc_method="ChatCompletions"[^}]*protocol="grpc"\}/);
  });
});

describe('HTTP settings', () => {
  it('defaults to port 8080 on HOST, and HTTP_HOST, HTTP_PORT, HTTP_REQUEST_TIMEOUT_MS and HTTP_ENABLED change that', () => {
    expect(loadConfig({ HOST: '10.1.2.3' }).http).toEqual({
      enabled: true,
      host: '10.1.2.3',
      hostSetting: 'HOST',
      port: 8080,
      requestTimeoutMs: 30_000,
      maxConnections: 10_000,
    });
    expect(loadConfig({ HOST: '10.1.2.3', HTTP_HOST: '127.0.0.1', HTTP_PORT: '9000', HTTP_REQUEST_TIMEOUT_MS: '0' }).http).toEqual({
      enabled: true,
      host: '127.0.0.1',
      hostSetting: 'HTTP_HOST',
      port: 9000,
      requestTimeoutMs: 0,
      maxConnections: 10_000,
    });
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '-1' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
    expect(loadConfig({ HTTP_ENABLED: 'false' }).http.enabled).toBe(false);
    expect(() => loadConfig({ HTTP_PORT: '70000' })).toThrow(/HTTP_PORT/);
    expect(() => loadConfig({ HTTP_ENABLED: 'maybe' })).toThrow(/HTTP_ENABLED/);
  });

  it('serves gRPC only with HTTP_ENABLED=false', async () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
      METRICS: 'off',
      HTTP_ENABLED: 'false',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: upstream.baseURL,
      SIMULATOR: 'off',
    });
    const grpcOnly = await startApp(config, createLogger('silent', sink), {});
    try {
      expect(grpcOnly.http).toBeUndefined();
    } finally {
      await grpcOnly.stop(100);
    }
  });
});
