import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { attemptRecord } from '../../helpers/attempt-record.js';
import { OtelTracer } from '../../../src/telemetry/otel.js';
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent, sanitizeTracestate } from '../../../src/telemetry/trace-context.js';
import { createTracer } from '../../../src/telemetry/create-tracer.js';
import { PropagationTracer } from '../../../src/telemetry/tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const SAMPLED = `00-${TRACE}-${PARENT}-01`;

const call = (traceparent?: string, tracestate?: string) => ({
  path: '/orchestrator.v1.ChatService/Chat',
  requestId: 'r-1',
  traceparent,
  tracestate,
});

describe('W3C traceparent', () => {
  it('parses a valid header', () => {
    expect(parseTraceparent(SAMPLED)).toEqual({ traceId: TRACE, parentId: PARENT, flags: 1 });
    expect(parseTraceparent(` 00-${TRACE}-${PARENT}-00 `)).toEqual({ traceId: TRACE, parentId: PARENT, flags: 0 });
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['version 00 with extra fields', `${SAMPLED}-extra`],
    ['garbage', 'not a traceparent'],
  ])('refuses %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('accepts a later version with extra fields, ignoring them', () => {
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-01-what-comes-next`)).toEqual({ traceId: TRACE, parentId: PARENT, flags: 1 });
  });

  it('formats version 00 and keeps only the flags it knows', () => {
    expect(formatTraceparent({ traceId: TRACE, spanId: PARENT, flags: 1 })).toBe(SAMPLED);
    expect(formatTraceparent({ traceId: TRACE, spanId: PARENT, flags: 0xff })).toBe(`00-${TRACE}-${PARENT}-03`);
  });

  it('makes fresh ids of the right size that round-trip', () => {
    const traceId = newTraceId();
    const spanId = newSpanId();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(newTraceId()).not.toBe(traceId);
    expect(parseTraceparent(formatTraceparent({ traceId, spanId, flags: 0 }))).toEqual({ traceId, parentId: spanId, flags: 0 });
  });

  it('never repeats an id across many refills of the random pool', () => {
    // 1,000 trace ids and 1,000 span ids take 24,000 random bytes: several 4 KiB pool refills.
    const traceIds = new Set(Array.from({ length: 1000 }, () => newTraceId()));
    const spanIds = new Set(Array.from({ length: 1000 }, () => newSpanId()));
    expect(traceIds.size).toBe(1000);
    expect(spanIds.size).toBe(1000);
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const id of spanIds) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('passes tracestate on when it is a plausible header value', () => {
    expect(sanitizeTracestate('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(sanitizeTracestate('x'.repeat(513))).toBeUndefined();
    expect(sanitizeTracestate('bad\nvalue')).toBeUndefined();
  });
});

describe('PropagationTracer (tracing export off)', () => {
  const tracer = new PropagationTracer();

  it("continues the caller's trace: same trace id and flags, a new span id per attempt", () => {
    const trace = tracer.startCall(call(SAMPLED, 'congo=t61rcWkgMzE'));
    expect(trace.traceId).toBe(TRACE);
    const first = parseTraceparent(trace.startAttempt({ model: 'a', provider: 'p', retry: 0 }).headers.traceparent);
    const second = parseTraceparent(trace.startAttempt({ model: 'a', provider: 'p', retry: 1 }).headers.traceparent);
    expect(first).toMatchObject({ traceId: TRACE, flags: 1 });
    expect(second).toMatchObject({ traceId: TRACE, flags: 1 });
    expect(first?.parentId).not.toBe(PARENT);
    expect(first?.parentId).not.toBe(second?.parentId);
    expect(trace.startAttempt({ model: 'a', provider: 'p', retry: 0 }).headers.tracestate).toBe('congo=t61rcWkgMzE');
  });

  it('starts a new, unsampled trace when the caller sent none or an invalid one', () => {
    for (const given of [undefined, 'garbage']) {
      const trace = tracer.startCall(call(given, 'congo=t61rcWkgMzE'));
      const headers = trace.startAttempt({ model: 'a', provider: 'p', retry: 0 }).headers;
      expect(parseTraceparent(headers.traceparent)).toMatchObject({ traceId: trace.traceId, flags: 0 });
      // tracestate belongs to the caller's trace; without that trace it is dropped.
      expect(headers.tracestate).toBeUndefined();
    }
  });

  it('is what createTracer returns without an OTLP endpoint', async () => {
    expect(await createTracer({})).toBeInstanceOf(PropagationTracer);
  });
});

describe('OtelTracer (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  function inMemory() {
    const exporter = new InMemorySpanExporter();
    const tracer = new OtelTracer({ serviceName: 'test', spanProcessor: new SimpleSpanProcessor(exporter) });
    return { exporter, tracer };
  }

  it("records a SERVER span under the caller's span and a CLIENT span per attempt, whose id the upstream sees", async () => {
    const { exporter, tracer } = inMemory();
    const trace = tracer.startCall(call(SAMPLED));
    const attempt = trace.startAttempt({ model: 'gpt-4o', provider: 'openai', retry: 0 });
    const sent = parseTraceparent(attempt.headers.traceparent);
    attempt.end(attemptRecord({ finishReason: 'length' }));
    trace.end({ code: 0, codeName: 'OK' });
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    const client = spans.find((s) => s.kind === SpanKind.CLIENT);
    expect(server?.name).toBe('orchestrator.v1.ChatService/Chat');
    expect(server?.spanContext().traceId).toBe(TRACE);
    expect(server?.parentSpanContext?.spanId).toBe(PARENT);
    expect(server?.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.method': 'Chat', 'rpc.grpc.status_code': 0 });
    expect(client?.name).toBe('chat gpt-4o');
    expect(client?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(client?.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 10,
      'gen_ai.usage.output_tokens': 20,
      'orchestrator.outcome': 'success',
      'gen_ai.response.finish_reasons': ['length'],
    });
    expect(sent).toEqual({ traceId: TRACE, parentId: client?.spanContext().spanId, flags: 1 });
    await tracer.shutdown();
  });

  it('marks failed attempts and server-side error codes as errors; a new trace is sampled', async () => {
    const { exporter, tracer } = inMemory();
    const trace = tracer.startCall(call(undefined));
    const attempt = trace.startAttempt({ model: 'gpt-4o', provider: 'openai', retry: 0 });
    expect(parseTraceparent(attempt.headers.traceparent)).toMatchObject({ traceId: trace.traceId, flags: 1 });
    attempt.end(attemptRecord({ outcome: 'timeout' }));
    trace.end({ code: 14, codeName: 'UNAVAILABLE', details: 'all failed' });
    const spans = exporter.getFinishedSpans();
    expect(spans.every((s) => s.status.code === SpanStatusCode.ERROR)).toBe(true);
    // A request that never finished has no finish reason to report.
    expect(spans.find((s) => s.kind === SpanKind.CLIENT)?.attributes['gen_ai.response.finish_reasons']).toBeUndefined();
    expect(spans.find((s) => s.kind === SpanKind.SERVER)?.parentSpanContext).toBeUndefined();
    await tracer.shutdown();
  });

  it("follows the caller's decision not to sample: nothing is exported, the flag passes on", async () => {
    const { exporter, tracer } = inMemory();
    const trace = tracer.startCall(call(`00-${TRACE}-${PARENT}-00`));
    const attempt = trace.startAttempt({ model: 'gpt-4o', provider: 'openai', retry: 0 });
    expect(parseTraceparent(attempt.headers.traceparent)).toMatchObject({ traceId: TRACE, flags: 0 });
    attempt.end(attemptRecord());
    trace.end({ code: 0, codeName: 'OK' });
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await tracer.shutdown();
  });

  it('exports over OTLP/HTTP to <endpoint>/v1/traces', async () => {
    const received: { url: string | undefined; body: string }[] = [];
    const collector = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url, body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    try {
      const tracer = await createTracer({ otlpEndpoint: `http://127.0.0.1:${port}/`, serviceName: 'gateway-under-test' });
      expect(tracer).not.toBeInstanceOf(PropagationTracer);
      const trace = tracer.startCall(call(SAMPLED));
      trace.startAttempt({ model: 'gpt-4o', provider: 'openai', retry: 0 }).end(attemptRecord());
      trace.end({ code: 0, codeName: 'OK' });
      await tracer.shutdown();
      expect(received.map((r) => r.url)).toContain('/v1/traces');
      const body = received.map((r) => r.body).join('');
      expect(body).toContain('orchestrator.v1.ChatService/Chat');
      expect(body).toContain('gateway-under-test');
    } finally {
      collector.close();
    }
  });
});
