import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddingServiceClient } from '../../src/gen/orchestrator/v1/embedding.js';
import { parseTraceparent } from '../../src/telemetry/trace-context.js';
import { callUnary, collectStream, streamRequest } from '../helpers/grpc-client.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * OpenTelemetry through the running server: OTEL_EXPORTER_OTLP_ENDPOINT points at a fake
 * OTLP/HTTP collector that records what it is sent (the exporter posts JSON to /v1/traces).
 */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
}
interface OtlpResource {
  attributes?: { key: string; value: Record<string, unknown> }[];
}
interface OtlpExport {
  resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}
interface OtlpPoint {
  attributes?: { key: string; value: Record<string, unknown> }[];
  count: number | string;
  sum?: number;
  explicitBounds?: number[];
}
interface OtlpMetric {
  name: string;
  unit?: string;
  histogram?: { dataPoints?: OtlpPoint[] };
}
interface OtlpMetricsExport {
  resourceMetrics?: { scopeMetrics?: { metrics?: OtlpMetric[] }[] }[];
}

/** OTLP span kinds (opentelemetry/proto/trace/v1/trace.proto). */
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

interface Collector {
  endpoint: string;
  posts: { path: string | undefined; contentType: string | undefined; body: string }[];
  spans(): OtlpSpan[];
  metrics(): OtlpMetric[];
  close(): Promise<void>;
}

async function startCollector(): Promise<Collector> {
  const posts: Collector['posts'] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST')
        posts.push({ path: req.url, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts,
    spans: () =>
      posts
        .filter((p) => p.path === '/v1/traces')
        .flatMap((p) => (JSON.parse(p.body) as OtlpExport).resourceSpans ?? [])
        .flatMap((r) => r.scopeSpans ?? [])
        .flatMap((s) => s.spans ?? []),
    metrics: () =>
      posts
        .filter((p) => p.path === '/v1/metrics')
        .flatMap((p) => (JSON.parse(p.body) as OtlpMetricsExport).resourceMetrics ?? [])
        .flatMap((r) => r.scopeMetrics ?? [])
        .flatMap((s) => s.metrics ?? []),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function attribute(span: { attributes?: OtlpSpan['attributes'] } | undefined, key: string): unknown {
  const value = span?.attributes?.find((a) => a.key === key)?.value ?? {};
  return Object.values(value)[0];
}

/** A string-array attribute (OTLP JSON: { arrayValue: { values: [{ stringValue }] } }). */
function strings(span: OtlpSpan | undefined, key: string): string[] | undefined {
  const value = span?.attributes?.find((a) => a.key === key)?.value as { arrayValue?: { values?: { stringValue?: string }[] } } | undefined;
  return value?.arrayValue?.values?.map((v) => v.stringValue ?? '');
}

const headerOf = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let collector: Collector | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  await collector?.close();
  h = undefined;
  collector = undefined;
});

describe('OTEL_EXPORTER_OTLP_ENDPOINT on a running server', () => {
  it("exports a SERVER span for the Chat call and a CLIENT span per upstream attempt, whose id is the upstream's parent id", async () => {
    collector = await startCollector();
    h = await startHarness({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_SERVICE_NAME: 'gateway-e2e', RETRY_MAX_ATTEMPTS: '2' },
    });
    // The first attempt fails with 503 and is retried: two upstream requests, two CLIENT spans.
    h.upstream.injectFault({ kind: 'http_error', status: 503, times: 1 });
    const { response } = await callUnary(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o-mini', prompt: 'trace me', messages: [], metadata: { tags: { team: 'search' } } },
      { metadata: { traceparent: `00-${TRACE}-${PARENT}-01` } },
    );
    expect(response.attempts).toHaveLength(2);
    const upstreamParents = h.upstream.requests.map((r) => parseTraceparent(headerOf(r.headers.traceparent)));
    // Stopping the server flushes the batch of spans to the collector.
    await h.close();
    h = undefined;

    expect(collector.posts.length).toBeGreaterThan(0);
    expect(collector.posts.every((p) => p.contentType?.startsWith('application/json'))).toBe(true);
    expect(collector.posts.map((p) => p.path)).toContain('/v1/traces');
    expect(collector.posts.map((p) => p.body).join('')).toContain('gateway-e2e');
    const spans = collector.spans();
    const servers = spans.filter((s) => s.kind === SPAN_KIND_SERVER);
    const clients = spans.filter((s) => s.kind === SPAN_KIND_CLIENT);
    expect(servers).toHaveLength(1);
    const server = servers[0];
    expect(server).toMatchObject({ name: 'orchestrator.v1.ChatService/Chat', traceId: TRACE, parentSpanId: PARENT });
    expect(attribute(server, 'rpc.grpc.status_code')).toBe(0);
    // Request tags are attributes of the call's span (attribution), not of the metric series.
    expect(attribute(server, 'orchestrator.tag.team')).toBe('search');

    expect(clients).toHaveLength(2);
    expect(upstreamParents).toHaveLength(2);
    for (const [i, client] of clients.entries()) {
      expect(client).toMatchObject({ name: 'chat gpt-4o-mini', traceId: TRACE, parentSpanId: server?.spanId });
      expect(attribute(client, 'orchestrator.retry')).toBe(i);
    }
    // What each upstream request carried: our trace, and the CLIENT span of that attempt as parent.
    expect(upstreamParents.map((p) => p?.traceId)).toEqual([TRACE, TRACE]);
    expect(upstreamParents.map((p) => p?.parentId).sort()).toEqual(clients.map((c) => c.spanId).sort());
    expect(clients.map((c) => attribute(c, 'orchestrator.outcome')).sort()).toEqual(['failure', 'success']);
    // OpenTelemetry GenAI conventions on each upstream request.
    const ok = clients.find((c) => attribute(c, 'orchestrator.outcome') === 'success');
    const failed = clients.find((c) => attribute(c, 'orchestrator.outcome') === 'failure');
    for (const client of clients) {
      expect(attribute(client, 'gen_ai.operation.name')).toBe('chat');
      expect(attribute(client, 'gen_ai.provider.name')).toBe('openai');
      expect(attribute(client, 'gen_ai.request.model')).toBe('gpt-4o-mini');
    }
    expect(attribute(ok, 'gen_ai.response.model')).toBe('gpt-4o-mini');
    expect(Number(attribute(ok, 'gen_ai.usage.output_tokens'))).toBe(response.usage?.completionTokens);
    expect(attribute(ok, 'error.type')).toBeUndefined();
    expect(strings(ok, 'gen_ai.response.finish_reasons')).toEqual(['stop']);
    expect(strings(failed, 'gen_ai.response.finish_reasons')).toBeUndefined();
    expect(attribute(failed, 'error.type')).toMatch(/^[A-Z_]+$/);
    // The upstream's own id of the failed request, to hand to its support.
    expect(attribute(failed, 'orchestrator.upstream_request_id')).toMatch(/^\S+$/);
    expect(attribute(ok, 'orchestrator.upstream_request_id')).toBeUndefined();
    expect(attribute(failed, 'gen_ai.response.model')).toBeUndefined();
    expect(attribute(server, 'error.type')).toBeUndefined();
  }, 30_000);

  it("a StreamChat's CLIENT span carries the finish reason the stream ended with", async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint } });
    // max_tokens below what the upstream would write: the stream ends with finish_reason "length".
    const { messages, error } = await collectStream(
      h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'Tell me a long story', maxTokens: 2 })),
    );
    expect(error).toBeUndefined();
    expect(messages.length).toBeGreaterThan(0);
    await h.close();
    h = undefined;
    const clients = collector.spans().filter((s) => s.kind === SPAN_KIND_CLIENT);
    expect(clients).toHaveLength(1);
    expect(attribute(clients[0], 'orchestrator.outcome')).toBe('success');
    expect(strings(clients[0], 'gen_ai.response.finish_reasons')).toEqual(['length']);
  }, 30_000);

  it('an HTTP API request is a SERVER span by HTTP conventions (method, route, status), not a gRPC one', async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, HTTP_PORT: '0' } });
    const res = await fetch(`${h.app.http?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE}-${PARENT}-01` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'trace me over HTTP' }] }),
    });
    expect(res.status).toBe(200);
    await h.close();
    h = undefined;
    const server = collector.spans().find((s) => s.kind === SPAN_KIND_SERVER);
    expect(server).toMatchObject({ name: 'POST /v1/chat/completions', traceId: TRACE, parentSpanId: PARENT });
    expect(attribute(server, 'http.request.method')).toBe('POST');
    expect(attribute(server, 'http.route')).toBe('/v1/chat/completions');
    expect(attribute(server, 'http.response.status_code')).toBe(200);
    expect(attribute(server, 'rpc.system')).toBeUndefined();
    expect(attribute(server, 'rpc.grpc.status_code')).toBeUndefined();
  }, 30_000);

  it('an HTTP request refused once its body arrived is a SERVER span from its arrival, as its metrics and log line time it', async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, HTTP_PORT: '0' } });
    const url = new URL(h.app.http?.url ?? '');
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    const body = '{"model":"gpt-4o-mini",';
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\ntraceparent: 00-${TRACE}-${PARENT}-01\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.end(body.slice(5));
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    await h.close();
    h = undefined;
    const server = collector.spans().find((s) => s.kind === SPAN_KIND_SERVER) as
      | (OtlpSpan & { startTimeUnixNano: string; endTimeUnixNano: string })
      | undefined;
    expect(server).toMatchObject({ name: 'POST /v1/chat/completions', traceId: TRACE });
    expect(attribute(server, 'http.response.status_code')).toBe(400);
    const ms = (Number(BigInt(server?.endTimeUnixNano ?? 0) - BigInt(server?.startTimeUnixNano ?? 0)) / 1e6) | 0;
    expect(ms).toBeGreaterThanOrEqual(250);
  }, 30_000);

  it('a call with no traceparent starts a sampled trace of its own, exported the same way', async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint } });
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'new trace', messages: [] });
    const sent = parseTraceparent(headerOf(h.upstream.requests.at(-1)?.headers.traceparent));
    await h.close();
    h = undefined;
    const spans = collector.spans();
    const server = spans.find((s) => s.kind === SPAN_KIND_SERVER);
    const client = spans.find((s) => s.kind === SPAN_KIND_CLIENT);
    expect(server?.parentSpanId ?? '').toBe('');
    expect(sent).toMatchObject({ traceId: server?.traceId, parentId: client?.spanId, flags: 1 });
    expect(client?.parentSpanId).toBe(server?.spanId);
  }, 30_000);

  it('OTEL_RESOURCE_ATTRIBUTES are on the resource of the spans and of the metrics; OTEL_SERVICE_NAME and ENVIRONMENT win over them', async () => {
    collector = await startCollector();
    h = await startHarness({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_SERVICE_NAME: 'gateway-e2e',
        ENVIRONMENT: 'test',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,service.namespace=ai,deployment.environment.name=ignored,team=search%2Cranking',
      },
    });
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'resource', messages: [] });
    await h.close();
    h = undefined;
    const resources = collector.posts.flatMap((p) => {
      const body = JSON.parse(p.body) as { resourceSpans?: { resource?: OtlpResource }[]; resourceMetrics?: { resource?: OtlpResource }[] };
      return [...(body.resourceSpans ?? []), ...(body.resourceMetrics ?? [])].map((r) => ({ path: p.path, resource: r.resource }));
    });
    expect(new Set(resources.map((r) => r.path))).toEqual(new Set(['/v1/traces', '/v1/metrics']));
    for (const { resource } of resources) {
      expect(attribute(resource, 'service.name')).toBe('gateway-e2e');
      expect(attribute(resource, 'service.namespace')).toBe('ai');
      expect(attribute(resource, 'team')).toBe('search,ranking');
      expect(attribute(resource, 'deployment.environment.name')).toBe('test');
    }
  }, 30_000);

  it('OTEL_SDK_DISABLED=true exports nothing, the endpoint set or not, and the trace still reaches the upstream', async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_SDK_DISABLED: 'true' } });
    await callUnary(
      h.clients.chat.chat.bind(h.clients.chat),
      { model: 'gpt-4o-mini', prompt: 'no export', messages: [] },
      { metadata: { traceparent: `00-${TRACE}-${PARENT}-01` } },
    );
    const sent = parseTraceparent(headerOf(h.upstream.requests.at(-1)?.headers.traceparent));
    await h.close();
    h = undefined;
    expect(collector.posts).toEqual([]);
    expect(sent?.traceId).toBe(TRACE);
  }, 30_000);

  it('exports the GenAI client metrics (token usage, operation duration) for Chat and StreamChat to <endpoint>/v1/metrics', async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_SERVICE_NAME: 'gateway-metrics' } });
    const { response } = await callUnary(h.clients.chat.chat.bind(h.clients.chat), {
      model: 'gpt-4o-mini',
      prompt: 'count me',
      messages: [],
    });
    const streamed = await collectStream(h.clients.chat.streamChat(streamRequest({ model: 'gpt-4o-mini', prompt: 'stream me' })));
    expect(streamed.error).toBeUndefined();
    // Stopping the server exports what the meter holds.
    await h.close();
    h = undefined;

    expect(collector.posts.map((p) => p.path)).toContain('/v1/metrics');
    const metrics = collector.metrics();
    const tokens = metrics.find((m) => m.name === 'gen_ai.client.token.usage');
    const duration = metrics.find((m) => m.name === 'gen_ai.client.operation.duration');
    expect(tokens?.unit).toBe('{token}');
    expect(duration?.unit).toBe('s');
    const common = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' };
    const attrs = (p: OtlpPoint) => Object.fromEntries((p.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));

    // One duration point set, two requests (Chat and StreamChat), in the convention's buckets.
    const durations = duration?.histogram?.dataPoints ?? [];
    expect(durations).toHaveLength(1);
    expect(attrs(durations[0] as OtlpPoint)).toEqual({ ...common, 'gen_ai.response.model': 'gpt-4o-mini' });
    expect(Number(durations[0]?.count)).toBe(2);
    expect(durations[0]?.explicitBounds?.[0]).toBe(0.01);

    const byType = new Map((tokens?.histogram?.dataPoints ?? []).map((p) => [attrs(p)['gen_ai.token.type'], p]));
    expect([...byType.keys()].sort()).toEqual(['input', 'output']);
    for (const [type, point] of byType) {
      expect(attrs(point)).toEqual({ ...common, 'gen_ai.response.model': 'gpt-4o-mini', 'gen_ai.token.type': type });
      expect(Number(point.count)).toBe(2);
      expect(point.explicitBounds?.slice(0, 3)).toEqual([1, 4, 16]);
    }
    const completed = streamed.messages.map((m) => m.event).find((e) => e?.$case === 'completed')?.completed;
    const streamedUsage = completed?.usage;
    expect(streamedUsage?.completionTokens).toBeGreaterThan(0);
    expect(byType.get('output')?.sum).toBe((response.usage?.completionTokens ?? 0) + (streamedUsage?.completionTokens ?? 0));
    expect(byType.get('input')?.sum).toBe((response.usage?.promptTokens ?? 0) + (streamedUsage?.promptTokens ?? 0));
  }, 30_000);

  it('an Embed request is an embeddings operation on its CLIENT span and in the GenAI client metrics, not a chat', async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint } });
    const embed = new EmbeddingServiceClient(`127.0.0.1:${h.app.port}`, grpc.credentials.createInsecure());
    try {
      await callUnary(embed.embed.bind(embed), { model: 'text-embedding-3-small', inputs: ['embed me'], dimensions: 0, tokenInputs: [] });
    } finally {
      embed.close();
    }
    await h.close();
    h = undefined;
    const client = collector.spans().find((s) => s.kind === SPAN_KIND_CLIENT);
    expect(client?.name).toBe('embeddings text-embedding-3-small');
    expect(attribute(client, 'gen_ai.operation.name')).toBe('embeddings');
    const metrics = collector.metrics();
    for (const name of ['gen_ai.client.operation.duration', 'gen_ai.client.token.usage']) {
      const points = metrics.find((m) => m.name === name)?.histogram?.dataPoints ?? [];
      expect(points.length).toBeGreaterThan(0);
      expect(points.map((p) => attribute(p, 'gen_ai.operation.name'))).toEqual(points.map(() => 'embeddings'));
    }
  }, 30_000);

  it('a collector that is down, or does not answer, neither fails the stop nor holds it up', async () => {
    // A port nothing listens on (refused), then one that takes connections and never answers.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const down = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      for (const endpoint of [down, `http://127.0.0.1:${(silent.address() as AddressInfo).port}`]) {
        const own = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
        await callUnary(own.clients.chat.chat.bind(own.clients.chat), { model: 'gpt-4o-mini', prompt: 'nobody listens', messages: [] });
        const started = Date.now();
        await expect(own.close()).resolves.toBeUndefined();
        expect(Date.now() - started).toBeLessThan(6_000);
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 60_000);

  it('a failed upstream request is measured with error.type on gen_ai.client.operation.duration', async () => {
    collector = await startCollector();
    h = await startHarness({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, RETRY_MAX_ATTEMPTS: '2' } });
    h.upstream.injectFault({ kind: 'http_error', status: 503, times: 1 });
    await callUnary(h.clients.chat.chat.bind(h.clients.chat), { model: 'gpt-4o-mini', prompt: 'fail once', messages: [] });
    await h.close();
    h = undefined;
    const points = collector.metrics().find((m) => m.name === 'gen_ai.client.operation.duration')?.histogram?.dataPoints ?? [];
    const failed = points.find((p) => attribute(p, 'error.type') !== undefined);
    // The ErrorInfo reason of an upstream 503, as docs/operations.md gives it for example.
    expect(attribute(failed, 'error.type')).toBe('UPSTREAM_ERROR');
    expect(attribute(failed, 'gen_ai.response.model')).toBeUndefined();
    expect(Number(failed?.count)).toBe(1);
    expect(points.filter((p) => attribute(p, 'error.type') === undefined).map((p) => Number(p.count))).toEqual([1]);
  }, 30_000);
});
