import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import type { AttemptRecord } from '../../src/domain/chat.js';
import { GetStatsResponse, StatsServiceClient, StatsServiceService, type StatsServiceServer } from '../../src/gen/orchestrator/v1/stats.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { ApiKeyStore } from '../../src/access/keys.js';
import { callInterceptor, callStateOf } from '../../src/server/interceptors/call-state.js';
import { callObserverOf } from '../../src/telemetry/call-observer.js';
import { EventBus } from '../../src/engine/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { OtelTracer } from '../../src/telemetry/otel.js';
import { StatsStore } from '../../src/telemetry/stats.js';
import { parseTraceparent } from '../../src/telemetry/trace-context.js';
import { callUnary, clientsFor, type Clients } from '../helpers/grpc-client.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger('info', sink) };
}

const settle = () => new Promise((r) => setTimeout(r, 30));

/**
 * The telemetry pieces around a real grpc-js server before they are wired into GatewayServer:
 * the call interceptor creates the call summary, the handler side finds it in the call's
 * state (as createCallContext does), an "upstream request" runs through it, and the
 * log line, the metrics and the spans show the result.
 */
describe('logging interceptor, call summary, metrics and spans on a real grpc-js server', () => {
  const { lines, log } = capture();
  const stats = new StatsStore();
  const metrics = new Metrics({ processMetrics: false });
  const exporter = new InMemorySpanExporter();
  const tracer = new OtelTracer({ serviceName: 'test', spanProcessor: new SimpleSpanProcessor(exporter) });
  const upstreamHeaders: Readonly<Record<string, string>>[] = [];
  let server: grpc.Server;
  let client: StatsServiceClient;

  const upstreamRecord: AttemptRecord = {
    model: 'gpt-4o',
    provider: 'openai',
    outcome: 'success',
    latencyMs: 80,
    usage: { promptTokens: 12, completionTokens: 34, totalTokens: 46, cachedTokens: 0 },
    costUsd: 0.00037,
    retry: 0,
    backoffMs: 0,
  };

  beforeAll(async () => {
    server = new grpc.Server({
      interceptors: [
        callInterceptor({
          log,
          observer: callObserverOf(new EventBus(stats.on, metrics.on)),
          keys: new ApiKeyStore([]),
          defaultTimeoutMs: 30_000,
          tracer,
        }),
      ],
    });
    const impl: StatsServiceServer = {
      getStats: (call, callback) => {
        // What the attempt runner will do through CallContext.upstream.
        const summary = callStateOf(call.metadata)?.summary;
        const request = summary?.requestStarted({ model: 'gpt-4o', provider: 'openai', retry: 0 });
        if (request) upstreamHeaders.push(request.headers);
        setTimeout(() => {
          request?.ended(upstreamRecord);
          // Some work of our own after the upstream answered.
          setTimeout(() => callback(null, GetStatsResponse.fromJSON({})), 20);
        }, 80);
      },
      watchStats: (call) => call.end(),
    };
    server.addService(StatsServiceService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new StatsServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await tracer.shutdown();
  });

  it('finds the summary on the handler side and logs model, tokens, cost, upstream time and overhead', async () => {
    await callUnary(client.getStats.bind(client), {}, { metadata: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    await settle();
    expect(upstreamHeaders).toHaveLength(1);
    const line = lines.find((l) => l.msg === 'call');
    expect(line).toMatchObject({
      method: '/orchestrator.v1.StatsService/GetStats',
      code: 'OK',
      traceId: TRACE,
      model: 'gpt-4o',
      provider: 'openai',
      attempts: 1,
      promptTokens: 12,
      completionTokens: 34,
      costUsd: 0.00037,
    });
    const durationMs = Number(line?.durationMs);
    const upstreamMs = Number(line?.upstreamMs);
    const overheadMs = Number(line?.overheadMs);
    expect(upstreamMs).toBeGreaterThanOrEqual(75);
    expect(upstreamMs).toBeLessThan(durationMs);
    expect(overheadMs).toBeGreaterThanOrEqual(15);
    // Less the time the request message took to arrive once its headers were handled: next to nothing here.
    expect(overheadMs).toBeLessThanOrEqual(durationMs - upstreamMs + 0.002);
    expect(overheadMs).toBeGreaterThan(durationMs - upstreamMs - 5);
  });

  it("carries the caller's trace to the upstream request, under the attempt span", () => {
    const sent = parseTraceparent(upstreamHeaders[0]?.traceparent);
    const spans = exporter.getFinishedSpans();
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER);
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT);
    expect(serverSpan?.parentSpanContext?.spanId).toBe(PARENT);
    expect(clientSpan?.parentSpanContext?.spanId).toBe(serverSpan?.spanContext().spanId);
    expect(sent).toEqual({ traceId: TRACE, parentId: clientSpan?.spanContext().spanId, flags: 1 });
  });

  it('records the call in the metrics, with the overhead histogram', async () => {
    const text = (await metrics.exposition()).body;
    const labels = 'grpc_service="orchestrator.v1.StatsService",grpc_method="GetStats"';
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_type="unary",grpc_code="OK",protocol="grpc"} 1`);
    expect(text).toContain(`llm_orchestrator_gateway_overhead_seconds_count{${labels},protocol="grpc"} 1`);
    expect(text).toContain(`llm_orchestrator_in_flight_calls{${labels},protocol="grpc"} 0`);
    const sum = Number(/llm_orchestrator_gateway_overhead_seconds_sum\{[^}]*GetStats[^}]*\} (\S+)/.exec(text)?.[1]);
    expect(sum).toBeGreaterThanOrEqual(0.015);
    expect(sum).toBeLessThan(0.08);
  });
});

describe('the running app (before the engine wiring)', () => {
  const { lines, log } = capture();
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
    app = await startApp(config, log, {});
    clients = clientsFor(app.port);
  });
  afterAll(async () => {
    clients.close();
    await app.stop(100);
    await upstream.close();
  });

  it("logs the caller's trace id, or a new one per call", async () => {
    await callUnary(
      clients.chat.chat.bind(clients.chat),
      { model: 'gpt-4o', prompt: 'trace me', messages: [] },
      { metadata: { traceparent: `00-${TRACE}-${PARENT}-01` } },
    );
    await callUnary(clients.chat.chat.bind(clients.chat), { model: 'gpt-4o', prompt: 'no trace', messages: [] });
    await settle();
    const calls = lines.filter((l) => l.msg === 'call');
    expect(calls[0]?.traceId).toBe(TRACE);
    expect(calls[1]?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(calls[1]?.traceId).not.toBe(TRACE);
  });
});
