import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildInfo } from '../../../src/telemetry/build-info.js';
import { attemptRecord } from '../../helpers/attempt-record.js';
import { CallSummary } from '../../../src/telemetry/call-summary.js';
import { callObserverOf, type FinishedCall } from '../../../src/telemetry/call-observer.js';
import { EventBus } from '../../../src/engine/index.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { startMetricsServer } from '../../../src/telemetry/metrics-server.js';
import { StatsStore } from '../../../src/telemetry/stats.js';
import { PropagationTracer } from '../../../src/telemetry/tracing.js';

/** The value of one sample line, e.g. value(text, 'x_total{a="b"}'). */
function value(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

const chat = { path: '/orchestrator.v1.ChatService/Chat', protocol: 'grpc', kind: 'unary' } as const;
const stream = { path: '/orchestrator.v1.ChatService/StreamChat', protocol: 'grpc', kind: 'server_stream' } as const;

describe('Metrics', () => {
  it('counts calls by method and code, with latency, in-flight and open-stream gauges and the overhead', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.on({ type: 'call_started', call: chat });
    metrics.on({ type: 'call_started', call: stream });
    let text = (await metrics.exposition()).body;
    expect(
      value(text, 'llm_orchestrator_in_flight_calls{grpc_service="orchestrator.v1.ChatService",grpc_method="Chat",protocol="grpc"}'),
    ).toBe(1);
    expect(
      value(text, 'llm_orchestrator_open_streams{grpc_service="orchestrator.v1.ChatService",grpc_method="StreamChat",protocol="grpc"}'),
    ).toBe(1);
    metrics.on({
      type: 'call_finished',
      call: { ...chat, code: 'OK', latencyMs: 300, upstreamMs: 299.5, upstreamRequests: 1, model: 'gpt-4o' },
    });
    metrics.on({ type: 'call_finished', call: { ...stream, code: 'CANCELLED', latencyMs: 1000, upstreamMs: 990, upstreamRequests: 1 } });
    metrics.on({ type: 'call_started', call: chat });
    metrics.on({ type: 'call_finished', call: { ...chat, code: 'INVALID_ARGUMENT', latencyMs: 2, upstreamMs: 0, upstreamRequests: 0 } });
    text = (await metrics.exposition()).body;
    const chatLabels = 'grpc_service="orchestrator.v1.ChatService",grpc_method="Chat"';
    expect(value(text, `grpc_server_started_total{${chatLabels},grpc_type="unary",protocol="grpc"}`)).toBe(2);
    expect(value(text, `grpc_server_handled_total{${chatLabels},grpc_type="unary",grpc_code="OK",protocol="grpc"}`)).toBe(1);
    expect(value(text, `grpc_server_handled_total{${chatLabels},grpc_type="unary",grpc_code="INVALID_ARGUMENT",protocol="grpc"}`)).toBe(1);
    expect(
      value(
        text,
        'grpc_server_handled_total{grpc_service="orchestrator.v1.ChatService",grpc_method="StreamChat",grpc_type="server_stream",grpc_code="CANCELLED",protocol="grpc"}',
      ),
    ).toBe(1);
    expect(value(text, `grpc_server_handling_seconds_sum{${chatLabels},grpc_type="unary",protocol="grpc"}`)).toBeCloseTo(0.302);
    expect(value(text, `grpc_server_handling_seconds_bucket{le="0.25",${chatLabels},grpc_type="unary",protocol="grpc"}`)).toBe(1);
    expect(value(text, `grpc_server_handling_seconds_bucket{le="0.5",${chatLabels},grpc_type="unary",protocol="grpc"}`)).toBe(2);
    // By answering model: only the call a model answered.
    expect(value(text, `llm_orchestrator_call_duration_seconds_sum{${chatLabels},model="gpt-4o",protocol="grpc"}`)).toBeCloseTo(0.3);
    expect(value(text, `llm_orchestrator_call_duration_seconds_count{${chatLabels},model="gpt-4o",protocol="grpc"}`)).toBe(1);
    expect(text).not.toContain(
      'llm_orchestrator_call_duration_seconds_count{grpc_service="orchestrator.v1.ChatService",grpc_method="StreamChat"',
    );
    expect(value(text, `llm_orchestrator_in_flight_calls{${chatLabels},protocol="grpc"}`)).toBe(0);
    expect(
      value(text, 'llm_orchestrator_open_streams{grpc_service="orchestrator.v1.ChatService",grpc_method="StreamChat",protocol="grpc"}'),
    ).toBe(0);
    // 300 ms call, 299.5 ms upstream: 0.5 ms of our own; the refused call never went upstream and is not counted.
    expect(value(text, `llm_orchestrator_gateway_overhead_seconds_count{${chatLabels},protocol="grpc"}`)).toBe(1);
    expect(value(text, `llm_orchestrator_gateway_overhead_seconds_sum{${chatLabels},protocol="grpc"}`)).toBeCloseTo(0.0005, 6);
    expect(value(text, `llm_orchestrator_gateway_overhead_seconds_bucket{le="0.0005",${chatLabels},protocol="grpc"}`)).toBe(1);
  });

  it('counts attempts, latency, tokens, cost and retries by model and provider', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.on({ type: 'attempt', record: attemptRecord() });
    metrics.on({
      type: 'attempt',
      record: attemptRecord({
        outcome: 'failure',
        retry: 1,
        usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedTokens: 0 },
        costUsd: 0,
      }),
    });
    metrics.on({ type: 'attempt', record: attemptRecord({ outcome: 'skipped', latencyMs: 0, costUsd: 0 }) });
    metrics.on({ type: 'retry_throttled' });
    const text = (await metrics.exposition()).body;
    const labels = 'provider="openai",model="gpt-4o"';
    expect(value(text, `llm_orchestrator_upstream_attempts_total{${labels},outcome="success"}`)).toBe(1);
    expect(value(text, `llm_orchestrator_upstream_attempts_total{${labels},outcome="failure"}`)).toBe(1);
    expect(value(text, `llm_orchestrator_upstream_attempts_total{${labels},outcome="skipped"}`)).toBe(1);
    // A skipped attempt sent nothing: no latency sample.
    expect(value(text, `llm_orchestrator_upstream_attempt_duration_seconds_count{${labels},outcome="skipped"}`)).toBeUndefined();
    expect(value(text, `llm_orchestrator_upstream_attempt_duration_seconds_sum{${labels},outcome="success"}`)).toBeCloseTo(0.25);
    expect(value(text, `llm_orchestrator_tokens_total{${labels},type="input"}`)).toBe(10);
    expect(value(text, `llm_orchestrator_tokens_total{${labels},type="output"}`)).toBe(20);
    expect(value(text, `llm_orchestrator_cost_usd_total{${labels}}`)).toBeCloseTo(0.002);
    expect(value(text, `llm_orchestrator_upstream_retries_total{${labels}}`)).toBe(1);
    expect(value(text, 'llm_orchestrator_retries_throttled_total')).toBe(1);
  });

  it('exposes the cost total on the 1e-10 USD grid of the answers, without float noise from the additions', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const stats = new StatsStore();
    // Two answers' costs, as gpt-4o-mini prices them: 0.00001695 + 0.0000420 adds up to 0.000058949999999999996 in floats.
    for (const costUsd of [0.1, 0.2, 0.00001695, 0.000042]) {
      metrics.on({ type: 'attempt', record: attemptRecord({ costUsd }) });
      stats.on({ type: 'attempt', record: attemptRecord({ costUsd }) });
    }
    const text = (await metrics.exposition()).body;
    const line = text.split('\n').find((l) => l.startsWith('llm_orchestrator_cost_usd_total{'));
    expect(line).toBe('llm_orchestrator_cost_usd_total{provider="openai",model="gpt-4o"} 0.30005895');
    expect(stats.snapshot().totalCostUsd).toBe(0.30005895);
  });

  it('counts the other engine events', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.on({ type: 'first_token', ms: 120, model: 'gpt-4o' });
    metrics.on({ type: 'first_token', ms: 80, model: 'gpt-4o-mini' });
    metrics.on({ type: 'race_won', model: 'gpt-4o' });
    // One, two and three of each result: a result counted under another's label shows.
    metrics.on({ type: 'fallback', triggered: false, defaultMessage: false });
    for (let i = 0; i < 2; i += 1) metrics.on({ type: 'fallback', triggered: true, defaultMessage: false });
    for (let i = 0; i < 3; i += 1) metrics.on({ type: 'fallback', triggered: true, defaultMessage: true });
    metrics.on({ type: 'stream_restarted' });
    metrics.on({ type: 'routed', profile: 'speed', model: 'gpt-4o-mini' });
    metrics.on({ type: 'cache_lookup', outcome: 'hit' });
    metrics.on({ type: 'cache_lookup', outcome: 'miss' });
    metrics.on({ type: 'cache_lookup', outcome: 'miss' });
    metrics.on({ type: 'access_rejected', reason: 'RATE_LIMITED' });
    const text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_time_to_first_token_seconds_sum{model="gpt-4o"}')).toBeCloseTo(0.12);
    expect(value(text, 'llm_orchestrator_time_to_first_token_seconds_count{model="gpt-4o-mini"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_race_wins_total{model="gpt-4o"}')).toBe(1);
    for (const [result, count] of [
      ['primary', 1],
      ['fallback', 2],
      ['default_message', 3],
    ] as const) {
      expect(value(text, `llm_orchestrator_fallback_calls_total{result="${result}"}`)).toBe(count);
    }
    expect(value(text, 'llm_orchestrator_stream_restarts_total')).toBe(1);
    expect(value(text, 'llm_orchestrator_routing_decisions_total{profile="speed",model="gpt-4o-mini"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_cache_lookups_total{result="hit"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_cache_lookups_total{result="miss"}')).toBe(2);
    expect(value(text, 'llm_orchestrator_access_rejections_total{reason="RATE_LIMITED"}')).toBe(1);
  });

  it('reads breaker states at each scrape: 0 closed, 1 half-open, 2 open', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let state: 'closed' | 'half_open' | 'open' = 'open';
    metrics.watchBreakers(() => [
      { provider: 'openai', model: 'gpt-4o', state },
      { provider: 'openai', model: 'gpt-4o-mini', state: 'closed' },
    ]);
    let text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_circuit_breaker_state{provider="openai",model="gpt-4o"}')).toBe(2);
    expect(value(text, 'llm_orchestrator_circuit_breaker_state{provider="openai",model="gpt-4o-mini"}')).toBe(0);
    state = 'half_open';
    text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_circuit_breaker_state{provider="openai",model="gpt-4o"}')).toBe(1);
  });

  it('shows each breaker as one series per state, 1 on the current one, for alerts on state="open"', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let state: 'closed' | 'half_open' | 'open' = 'open';
    metrics.watchBreakers(() => [{ provider: 'openai', model: 'gpt-4o', state }]);
    let text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="open"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="closed"}')).toBe(0);
    expect(value(text, 'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="half_open"}')).toBe(0);
    state = 'closed';
    text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="open"}')).toBe(0);
    expect(value(text, 'llm_orchestrator_breaker_state{provider="openai",model="gpt-4o",state="closed"}')).toBe(1);
  });

  it('exports llm_orchestrator_build_info with the version, the commit and the Node.js version', async () => {
    const own = (await new Metrics({ processMetrics: false }).exposition()).body;
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const line = own.split('\n').find((l) => l.startsWith('llm_orchestrator_build_info{'));
    expect(line).toMatch(
      new RegExp(
        `^llm_orchestrator_build_info\\{version="${pkg.version.replace(/\./g, '\\.')}",commit="([0-9a-f]{7,40}|unknown)",node="${process.versions.node}"\\} 1$`,
      ),
    );
    expect(buildInfo({ GIT_COMMIT: 'ABCDEF1234567' }).commit).toBe('abcdef1234567');
    expect(buildInfo({ GIT_COMMIT: 'not a commit' }).commit).toBe('unknown');
    const given = (
      await new Metrics({ processMetrics: false, buildInfo: { version: '9.9.9', commit: 'abc1234', node: '22.0.0' } }).exposition()
    ).body;
    expect(value(given, 'llm_orchestrator_build_info{version="9.9.9",commit="abc1234",node="22.0.0"}')).toBe(1);
  });

  it('keeps label values bounded: past the cap, new values are "other"', async () => {
    const metrics = new Metrics({ processMetrics: false });
    for (let i = 0; i < 80; i += 1) metrics.on({ type: 'access_rejected', reason: `REASON_${i}` });
    const text = (await metrics.exposition()).body;
    const reasons = text.split('\n').filter((l) => l.startsWith('llm_orchestrator_access_rejections_total{'));
    expect(reasons).toHaveLength(65);
    expect(value(text, 'llm_orchestrator_access_rejections_total{reason="other"}')).toBe(16);
  });

  it('a removed model leaves /metrics and gives its place under the cap to the next model', async () => {
    const metrics = new Metrics({ processMetrics: false });
    for (let i = 0; i < 1000; i += 1) {
      metrics.on({ type: 'attempt', record: attemptRecord({ model: `gone-${i}` }) });
      metrics.on({ type: 'race_won', model: `gone-${i}` });
      metrics.on({ type: 'routed', profile: 'balanced', model: `gone-${i}` });
      metrics.on({ type: 'model_removed', model: `gone-${i}` });
    }
    metrics.on({ type: 'attempt', record: attemptRecord({ model: 'new-model' }) });
    const text = (await metrics.exposition()).body;
    expect(text).not.toContain('model="gone-');
    expect(text).not.toContain('model="other"');
    expect(value(text, 'llm_orchestrator_upstream_attempts_total{provider="openai",model="new-model",outcome="success"}')).toBe(1);
  });

  it('uses a registry of its own, with Node process metrics by default', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.on({ type: 'stream_restarted' });
    const [textA, textB] = await Promise.all([a.exposition(), b.exposition()]);
    expect(value(textA.body, 'llm_orchestrator_stream_restarts_total')).toBe(1);
    expect(value(textB.body, 'llm_orchestrator_stream_restarts_total')).toBe(0);
    expect(textA.body).toContain('process_cpu_user_seconds_total');
    expect(textA.body).toContain('nodejs_eventloop_lag_seconds');
    expect(textA.contentType).toContain('text/plain');
  });
});

describe('the event port', () => {
  it('reaches every listener with every engine event and every call', async () => {
    const stats = new StatsStore();
    const metrics = new Metrics({ processMetrics: false });
    const bus = new EventBus(stats.on, metrics.on);
    bus.emit({ type: 'attempt', record: attemptRecord() });
    bus.emit({ type: 'race_won', model: 'gpt-4o' });
    bus.emit({ type: 'fallback', triggered: true, defaultMessage: false });
    bus.emit({ type: 'first_token', ms: 50, model: 'gpt-4o' });
    bus.emit({ type: 'retry_throttled' });
    bus.emit({ type: 'stream_restarted' });
    bus.emit({ type: 'routed', profile: 'balanced', model: 'gpt-4o' });
    bus.emit({ type: 'cache_lookup', outcome: 'stale' });
    bus.emit({ type: 'access_rejected', reason: 'BUDGET_EXHAUSTED' });
    const observer = callObserverOf(bus);
    observer.callStarted?.(chat);
    observer.recordCall({ ...chat, code: 'NOT_FOUND', latencyMs: 5, upstreamMs: 0, upstreamRequests: 0 });
    const s = stats.snapshot();
    expect(s).toMatchObject({
      raceWins: 1,
      fallbacksTriggered: 1,
      retriesThrottled: 1,
      streamRestarts: 1,
      totalRequests: 1,
      failedRequests: 1,
      cache: { staleServed: 1 },
      accessRejections: { BUDGET_EXHAUSTED: 1 },
    });
    expect(s.timeToFirstToken.count).toBe(1);
    expect(s.models[0]).toMatchObject({ name: 'gpt-4o', requests: 1, promptTokens: 10 });
    const text = (await metrics.exposition()).body;
    expect(value(text, 'llm_orchestrator_race_wins_total{model="gpt-4o"}')).toBe(1);
    expect(value(text, 'llm_orchestrator_cache_lookups_total{result="stale"}')).toBe(1);
    expect(
      value(
        text,
        'grpc_server_handled_total{grpc_service="orchestrator.v1.ChatService",grpc_method="Chat",grpc_type="unary",grpc_code="NOT_FOUND",protocol="grpc"}',
      ),
    ).toBe(1);
  });

  it("StatsStore counts a model's attempts by outcome: its error rate leaves cancels out, skips are not requests, its cost outlives it", () => {
    const stats = new StatsStore();
    for (const outcome of ['success', 'failure', 'cancelled', 'skipped'] as const) {
      stats.on({ type: 'attempt', record: attemptRecord({ outcome, costUsd: outcome === 'success' ? 0.002 : 0 }) });
    }
    // The first model did not answer and nobody did: a fallback that served the default message.
    stats.on({ type: 'fallback', triggered: true, defaultMessage: true });
    expect(stats.snapshot().models[0]).toMatchObject({ requests: 3, successes: 1, errors: 1, cancelled: 1, skipped: 1, errorRate: 0.5 });
    expect(stats.snapshot()).toMatchObject({ fallbacksTriggered: 1, defaultMessagesServed: 1 });
    stats.on({ type: 'model_removed', model: 'gpt-4o' });
    expect(stats.snapshot()).toMatchObject({ models: [], totalCostUsd: 0.002 });
  });

  it('StatsStore counts only ChatService calls, OK as success', () => {
    const stats = new StatsStore();
    const calls: FinishedCall[] = [
      { ...chat, code: 'OK', latencyMs: 1, upstreamMs: 0, upstreamRequests: 0 },
      {
        path: '/orchestrator.v1.StatsService/GetStats',
        protocol: 'grpc',
        kind: 'unary',
        code: 'OK',
        latencyMs: 1,
        upstreamMs: 0,
        upstreamRequests: 0,
      },
    ];
    for (const call of calls) stats.on({ type: 'call_finished', call });
    expect(stats.snapshot()).toMatchObject({ totalRequests: 1, successfulRequests: 1 });
  });
});

describe('CallSummary', () => {
  it('measures upstream time as the union of open intervals, and sums usage', () => {
    let now = 0;
    const summary = new CallSummary(
      new PropagationTracer().startCall({ path: '/x/Y', requestId: 'r', traceparent: undefined, tracestate: undefined }),
      { now: () => now },
    );
    expect(summary.usage()).toBeUndefined();
    // 0..100 first request; 50..150 a parallel one; 150..200 nothing (backoff); 200..260 a retry.
    const a = summary.requestStarted({ model: 'a', provider: 'p', retry: 0 });
    now = 50;
    const b = summary.requestStarted({ model: 'b', provider: 'p', retry: 0 });
    now = 100;
    a.ended(
      attemptRecord({
        model: 'a',
        outcome: 'cancelled',
        usage: { promptTokens: 5, completionTokens: 1, totalTokens: 6, cachedTokens: 0 },
        costUsd: 0.001,
      }),
    );
    a.ended(attemptRecord({ model: 'a' }));
    now = 150;
    b.ended(
      attemptRecord({
        model: 'b',
        outcome: 'failure',
        usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedTokens: 0 },
        costUsd: 0,
      }),
    );
    expect(summary.upstreamMs()).toBe(150);
    now = 200;
    const c = summary.requestStarted({ model: 'b', provider: 'p', retry: 1 });
    now = 230;
    expect(summary.upstreamMs()).toBe(180);
    now = 260;
    c.ended(attemptRecord({ model: 'b', provider: 'p' }));
    now = 400;
    expect(summary.upstreamMs()).toBe(210);
    expect(summary.usage()).toEqual({
      model: 'b',
      provider: 'p',
      severalModels: false,
      attempts: 3,
      promptTokens: 15,
      completionTokens: 21,
      costUsd: 0.003,
    });
    // A second model answering too (a Batch): the call has no single answering model.
    summary.requestStarted({ model: 'a', provider: 'p', retry: 0 }).ended(attemptRecord({ model: 'a' }));
    expect(summary.usage()?.severalModels).toBe(true);
  });

  // The call's record (the ledger row) reads these: a Batch's items each tell their own.
  it("keeps the first request and the first failure told, and at most 16 tag keys, a held key's newer value", () => {
    const summary = new CallSummary(
      new PropagationTracer().startCall({ path: '/x/Y', requestId: 'r', traceparent: undefined, tracestate: undefined }),
    );
    summary.requested({ model: 'gpt-4o', prompt: 'one', raced: false });
    summary.requested({ model: 'gpt-4o-mini', prompt: 'two', raced: false });
    const first = new Error('first');
    summary.failed(first);
    summary.failed(new Error('second'));
    expect(summary.outcome()).toMatchObject({ request: { model: 'gpt-4o', prompt: 'one' }, error: first });
    summary.tag(Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'a'])));
    summary.tag({ k0: 'b', k15: 'a', k16: 'a' });
    const tags = summary.tags() ?? {};
    expect(Object.keys(tags)).toHaveLength(16);
    expect(tags).toMatchObject({ k0: 'b', k15: 'a' });
    expect(tags).not.toHaveProperty('k16');
  });

  it('hands each upstream request its own traceparent in the call trace', () => {
    const summary = new CallSummary(
      new PropagationTracer().startCall({
        path: '/x/Y',
        requestId: 'r',
        traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
        tracestate: undefined,
      }),
    );
    const one = summary.requestStarted({ model: 'a', provider: 'p', retry: 0 }).headers.traceparent;
    const two = summary.requestStarted({ model: 'a', provider: 'p', retry: 1 }).headers.traceparent;
    expect(one).toMatch(new RegExp(`^00-${'a'.repeat(32)}-[0-9a-f]{16}-01$`));
    expect(two).not.toBe(one);
  });
});

describe('metrics HTTP endpoint', () => {
  it('serves GET /metrics on its own port, 404 elsewhere, 405 for other methods', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.on({ type: 'stream_restarted' });
    const server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
    try {
      expect(server.port).toBeGreaterThan(0);
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(value(await res.text(), 'llm_orchestrator_stream_restarts_total')).toBe(1);
      expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('fails to start on a port in use', async () => {
    const first = await startMetricsServer(new Metrics({ processMetrics: false }), { host: '127.0.0.1', port: 0 });
    try {
      await expect(startMetricsServer(new Metrics({ processMetrics: false }), { host: '127.0.0.1', port: first.port })).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });
});
