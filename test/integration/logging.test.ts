import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../../src/telemetry/logger.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { eventually } from '../helpers/eventually.js';
import { callUnary, clientsFor, streamRequest, unaryError, type Clients } from '../helpers/grpc-client.js';
import { captureLines } from '../helpers/log-lines.js';

const { lines, sink } = captureLines();

let app: App;
let upstream: Simulator;
let clients: Clients;
beforeAll(async () => {
  upstream = await startSimulator({ latencyScale: 0 });
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: upstream.baseURL,
    SIMULATOR: 'off',
    RETRY_MAX_ATTEMPTS: '1',
    METRICS_PORT: '0',
    HTTP_PORT: '0',
  });
  app = await startApp(config, createLogger('info', sink), {});
  clients = clientsFor(app.port);
});
afterAll(async () => {
  clients.close();
  await app.stop(100);
  await upstream.close();
});

const callLines = () => lines.filter((l) => l.msg === 'call');

describe('logging interceptor', () => {
  it('writes one line per call with method, code, duration, peer and the generated request id', async () => {
    const before = callLines().length;
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), { model: 'gpt-4o', prompt: 'log me', messages: [] });
    await new Promise((r) => setTimeout(r, 20));
    const line = callLines().slice(before);
    expect(line).toHaveLength(1);
    expect(line[0]).toMatchObject({
      method: '/orchestrator.v1.ChatService/Chat',
      code: 'OK',
      requestId: response.requestId,
      level: 'info',
    });
    expect(line[0]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // A configured provider's answer (here the openai kind) is not marked simulated.
    expect(response).toMatchObject({ provider: 'openai', simulated: false });
    expect(typeof line[0]?.durationMs).toBe('number');
    expect(String(line[0]?.peer)).toContain('127.0.0.1');
  });

  it('logs failures at warn with the code and the caller-sent request id', async () => {
    const before = callLines().length;
    await unaryError(
      clients.chat.chat.bind(clients.chat),
      { model: 'nope', prompt: 'x', messages: [] },
      { metadata: { 'x-request-id': 'caller-42' } },
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(callLines().slice(before)[0]).toMatchObject({ code: 'NOT_FOUND', requestId: 'caller-42', level: 'warn' });
  });

  it("names the caller's address on the line of a call the client cancelled", async () => {
    upstream.injectFault({ kind: 'delay', delayMs: 2_000, model: 'gpt-4o-mini', times: 1 });
    const md = new grpc.Metadata();
    md.set('x-request-id', 'cancelled-peer');
    const call = clients.chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'cancel me' }), md);
    call.on('error', () => undefined);
    await eventually(
      async () => upstream.requests.length,
      () => upstream.requests.some((r) => JSON.stringify(r.body).includes('cancel me')),
    );
    call.cancel();
    const line = await eventually(
      async () => callLines().find((l) => l.requestId === 'cancelled-peer'),
      (l) => l !== undefined,
    );
    // At info, as an HTTP request whose client went away: the client's choice, not the gateway's problem.
    expect(line).toMatchObject({ code: 'CANCELLED', level: 'info' });
    expect(String(line?.peer)).toContain('127.0.0.1');
  });

  it('refuses an undecodable request as bad input, and records the INVALID_ARGUMENT the client got, not a client cancel', async () => {
    // Bytes that are no protobuf message: field 1 as a length-delimited string longer than the body.
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const client = new grpc.Client(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
    const before = callLines().length;
    const code = await new Promise<number>((resolve) => {
      client.makeUnaryRequest(
        '/orchestrator.v1.ChatService/Chat',
        (b: Buffer) => b,
        (b: Buffer) => b,
        garbage,
        (err) => resolve(err?.code ?? grpc.status.OK),
      );
    });
    client.close();
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    // grpc-js sends that status itself; the line comes when the server hears of it, after the client may have.
    const logged = await eventually(
      async () => callLines().slice(before),
      (l) => l.length > 0,
    );
    expect(logged).toEqual([expect.objectContaining({ method: '/orchestrator.v1.ChatService/Chat', code: 'INVALID_ARGUMENT' })]);
    const metrics = await (await fetch(`${app.metricsServer?.url ?? ''}`)).text();
    expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Chat"[^}]*grpc_code="INVALID_ARGUMENT",protocol="grpc"\} 1/);
    expect(metrics).not.toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Chat"[^}]*grpc_code="CANCELLED"[^}]*\}/);
  });
});

describe('logging interceptor at LOG_LEVEL=warn', () => {
  const { lines: warnLines, sink: warnSink } = captureLines();
  let warnApp: App;
  let warnClients: Clients;
  beforeAll(async () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: 'sqlite::memory:',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: upstream.baseURL,
      SIMULATOR: 'off',
      RETRY_MAX_ATTEMPTS: '1',
      METRICS_PORT: '0',
      HTTP_PORT: '0',
    });
    warnApp = await startApp(config, createLogger('warn', warnSink), {});
    warnClients = clientsFor(warnApp.port);
  });
  afterAll(async () => {
    warnClients.close();
    await warnApp.stop(100);
  });

  it('writes no line for a successful call but still one for a failure, and counts both', async () => {
    await callUnary(warnClients.chat.chat.bind(warnClients.chat), { model: 'gpt-4o', prompt: 'quiet', messages: [] });
    await unaryError(
      warnClients.chat.chat.bind(warnClients.chat),
      { model: 'nope', prompt: 'x', messages: [] },
      { metadata: { 'x-request-id': 'caller-43' } },
    );
    await new Promise((r) => setTimeout(r, 20));
    const calls = warnLines.filter((l) => l.msg === 'call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ code: 'NOT_FOUND', requestId: 'caller-43', level: 'warn' });
    const { response: stats } = await callUnary(warnClients.stats.getStats.bind(warnClients.stats), {});
    expect(Number(stats.totalRequests)).toBe(2);
  });
});
