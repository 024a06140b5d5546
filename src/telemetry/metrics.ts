import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { GatewayEvent, InFlightReading, StartedCall } from '../engine/index.js';
import { buildInfo, type BuildInfo } from './build-info.js';
import { AttemptSeries, BoundedLabel, CallSeries, type AttemptMetrics, type CallMetrics } from './call-series.js';
import { InFlightMetrics } from './in-flight-metrics.js';
import { HistogramCells, ValueCells } from './metric-cells.js';
import { overheadMs } from '../domain/latency.js';
import { roundUsd } from '../domain/money.js';
import { extend } from '../domain/extend.js';

/**
 * Prometheus metrics in a registry of their own (not prom-client's global one, so several
 * servers can live in one process, as in the tests). A listener on the event port (`on`), next
 * to the StatsStore: the engine's events and the calls the logging interceptor reports.
 *
 * Label values are bounded: methods are the registered gRPC methods (grpc-js answers unknown
 * paths before any interceptor runs), models and providers come from the catalog and the
 * provider registry, outcomes and reasons are fixed sets. No request id or user input is ever
 * a label. As a last guard each label keeps at most a fixed number of distinct values and maps
 * any further value to "other".
 */

export type BreakerReading = {
  readonly provider: string;
  readonly model: string;
  readonly state: 'closed' | 'half_open' | 'open';
};

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC, handles); default true. */
  readonly processMetrics?: boolean;
  /** The labels of llm_orchestrator_build_info; default: this build's (build-info.ts). */
  readonly buildInfo?: BuildInfo;
}

/** Seconds. Upstream LLM calls take from tens of milliseconds to minutes. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
/** Our own work per call is expected well under a millisecond. */
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * Metrics counted in US dollars, exposed on the 1e-10 USD grid; the primary of several workers
 * rounds their sum to it again, since adding the workers' amounts brings the float noise back.
 */
const COST_METRIC = 'llm_orchestrator_cost_usd_total';
export const USD_METRICS: readonly string[] = [COST_METRIC];

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
/** From the mildest to the worst: the primary of several workers shows the worst one's. */
export const BREAKER_STATES = ['closed', 'half_open', 'open'] as const;
export const BREAKER_STATE_METRIC = 'llm_orchestrator_breaker_state';

export class Metrics {
  readonly registry = new Registry();
  private breakerSource: (() => Iterable<BreakerReading>) | undefined;

  private readonly methods = new BoundedLabel(256);
  private readonly models = new BoundedLabel(1000);
  private readonly providers = new BoundedLabel(100);
  private readonly reasons = new BoundedLabel(64);
  private readonly profiles = new BoundedLabel(16);

  private readonly calls: CallMetrics = {
    started: this.valueCells('counter', 'grpc_server_started_total', 'gRPC calls started.', [
      'grpc_service',
      'grpc_method',
      'grpc_type',
      'protocol',
    ]),
    handled: this.valueCells('counter', 'grpc_server_handled_total', 'gRPC calls finished, by status code.', [
      'grpc_service',
      'grpc_method',
      'grpc_type',
      'grpc_code',
      'protocol',
    ]),
    handling: new HistogramCells(this.registry, 'grpc_server_handling_seconds', 'gRPC call duration, arrival to status.', CALL_BUCKETS),
    handlingByModel: new HistogramCells(
      this.registry,
      'llm_orchestrator_call_duration_seconds',
      'gRPC calls a model answered: duration, arrival to status, by the answering model.',
      CALL_BUCKETS,
    ),
    inFlight: this.valueCells('gauge', 'llm_orchestrator_in_flight_calls', 'gRPC calls in progress.', [
      'grpc_service',
      'grpc_method',
      'protocol',
    ]),
    openStreams: this.valueCells('gauge', 'llm_orchestrator_open_streams', 'Streaming gRPC calls in progress.', [
      'grpc_service',
      'grpc_method',
      'protocol',
    ]),
    overhead: new HistogramCells(
      this.registry,
      'llm_orchestrator_gateway_overhead_seconds',
      'Calls that went upstream: duration minus the wall time during which an upstream request of the call was open, and minus the time the request took to arrive after its headers.',
      OVERHEAD_BUCKETS,
    ),
  };
  /** Per method path: its series through each door (a handful at most). */
  private readonly callSeries = new Map<string, CallSeries[]>();

  // Declared in the order of their families on /metrics.
  private readonly upstreamAttempts = this.valueCells(
    'counter',
    'llm_orchestrator_upstream_attempts_total',
    "Upstream requests, by outcome (skipped: nothing sent, for an open circuit breaker, no provider, or no slot under the provider's cap: PROVIDER_BUSY or the caller gone while waiting).",
    ['provider', 'model', 'outcome'],
  );
  private readonly upstreamLatency = new HistogramCells(
    this.registry,
    'llm_orchestrator_upstream_attempt_duration_seconds',
    'Upstream request duration (streams: until the stream ended).',
    CALL_BUCKETS,
  );
  private readonly upstreamRetries = this.valueCells(
    'counter',
    'llm_orchestrator_upstream_retries_total',
    'Upstream requests that retried a failed one.',
    ['provider', 'model'],
  );
  private readonly retriesThrottled = this.counter('llm_orchestrator_retries_throttled_total', 'Retries refused by the retry budget.', []);
  private readonly upstream: AttemptMetrics = {
    attempts: this.upstreamAttempts,
    attemptLatency: this.upstreamLatency,
    retries: this.upstreamRetries,
    tokens: this.valueCells('counter', 'llm_orchestrator_tokens_total', 'Tokens used upstream (type: input or output).', [
      'provider',
      'model',
      'type',
    ]),
    cost: new ValueCells(this.registry, {
      kind: 'counter',
      name: COST_METRIC,
      help: 'US dollars spent upstream, from catalog prices.',
      labelNames: ['provider', 'model'],
      exposed: roundUsd,
    }),
  };
  /** Per provider, per model. */
  private readonly attemptSeries = new Map<string, Map<string, AttemptSeries>>();

  private readonly ttft = new HistogramCells(
    this.registry,
    'llm_orchestrator_time_to_first_token_seconds',
    'Streamed calls (StreamChat, HTTP stream: true): call arrival to the first token relayed.',
    TTFT_BUCKETS,
  );
  private readonly raceWins = this.counter('llm_orchestrator_race_wins_total', 'Races won, by model.', ['model']);
  private readonly fallbacks = this.counter(
    'llm_orchestrator_fallback_calls_total',
    'Fallback calls and routed Chat calls (the ranking is their chain), by who answered: primary, fallback, default_message; failed: nobody.',
    ['result'],
  );
  private readonly streamRestarts = this.counter(
    'llm_orchestrator_stream_restarts_total',
    'Streams restarted on another model after a mid-stream failure.',
    [],
  );
  private readonly routing = this.counter(
    'llm_orchestrator_routing_decisions_total',
    'Routed requests, by profile and first-ranked model.',
    ['profile', 'model'],
  );
  private readonly cacheLookups = this.counter(
    'llm_orchestrator_cache_lookups_total',
    'Response cache lookups (result: hit, miss, stale).',
    ['result'],
  );
  private readonly accessRejections = this.counter(
    'llm_orchestrator_access_rejections_total',
    "Calls a valid API key made that its limits, budgets or models refused, by ErrorInfo reason (a missing or unknown key is grpc_server_handled_total's UNAUTHENTICATED).",
    ['reason'],
  );

  private readonly breakers: Gauge<'provider' | 'model'>;
  private readonly breakerStates: Gauge<'provider' | 'model' | 'state'>;
  private readonly upstreamSlots: InFlightMetrics;

  constructor(options: MetricsOptions = {}) {
    this.breakers = new Gauge({
      name: 'llm_orchestrator_circuit_breaker_state',
      help: 'Circuit breaker per model endpoint: 0 closed, 1 half-open, 2 open.',
      labelNames: ['provider', 'model'],
      registers: [this.registry],
      // Several workers (WORKERS > 1) each have their own breakers: show the worst.
      aggregator: 'max',
      // Read at each scrape, so the gauge shows a half-open breaker once its cool-down is over.
      collect: () => this.collectBreakers(),
    });
    this.breakerStates = new Gauge({
      name: BREAKER_STATE_METRIC,
      help: 'Circuit breaker per model endpoint: 1 on the series of its current state (closed, half_open, open), 0 on the others.',
      labelNames: ['provider', 'model', 'state'],
      registers: [this.registry],
      aggregator: 'max',
      // Filled by the numeric gauge's collect, which runs first at each scrape.
    });
    const build = options.buildInfo ?? buildInfo();
    new Gauge({
      name: 'llm_orchestrator_build_info',
      help: 'Always 1; the labels say which build is running: version, commit, Node.js version.',
      labelNames: ['version', 'commit', 'node'],
      registers: [this.registry],
      aggregator: 'first',
    }).set({ version: build.version, commit: build.commit, node: build.node }, 1);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.upstreamSlots = new InFlightMetrics(this.registry, (p) => this.providers.of(p));
  }

  /** Where the in-flight gauges read each provider's slots at each scrape (the engine's). */
  watchInFlight(source: () => Iterable<InFlightReading>): void {
    this.upstreamSlots.watch(source);
  }

  /** Where the breaker gauge reads its states at each scrape (the engine's breakers). */
  watchBreakers(source: () => Iterable<BreakerReading>): void {
    this.breakerSource = source;
  }

  /** The text exposition format, for GET /metrics. */
  async exposition(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** The listener on the event port: each event moves its metrics. */
  readonly on = (event: GatewayEvent): void => {
    switch (event.type) {
      case 'call_started': {
        const series = this.seriesOf(event.call);
        this.calls.started.add(series.started);
        this.calls.inFlight.add(series.inFlight);
        if (event.call.kind !== 'unary') this.calls.openStreams.add(series.openStreams);
        return;
      }
      case 'call_finished': {
        const { call } = event;
        const series = this.seriesOf(call);
        this.calls.handled.add(series.handledAs(call.code));
        this.calls.handling.observe(series.handling, call.latencyMs / 1000);
        if (call.model) this.calls.handlingByModel.observe(series.byModelAs(this.models.of(call.model)), call.latencyMs / 1000);
        // Only calls that went upstream: the question is what the gateway adds on top of the model.
        if (call.upstreamRequests > 0) {
          this.calls.overhead.observe(series.overhead, overheadMs(call.latencyMs, call.upstreamMs, call.receivingMs) / 1000);
        }
        this.calls.inFlight.add(series.inFlight, -1);
        if (call.kind !== 'unary') this.calls.openStreams.add(series.openStreams, -1);
        return;
      }
      case 'attempt': {
        const { record } = event;
        const series = this.attemptSeriesOf(record.provider, record.model);
        const byOutcome = series.outcome(record.outcome);
        const upstream = this.upstream;
        upstream.attempts.add(byOutcome.count);
        if (record.outcome === 'skipped') return;
        upstream.attemptLatency.observe(byOutcome.latency, record.latencyMs / 1000);
        if (record.retry > 0) upstream.retries.add(series.retries);
        if (record.usage.promptTokens > 0) upstream.tokens.add(series.input, record.usage.promptTokens);
        if (record.usage.completionTokens > 0) upstream.tokens.add(series.output, record.usage.completionTokens);
        if (record.costUsd > 0) upstream.cost.add(series.cost, record.costUsd);
        return;
      }
      case 'race_won':
        this.raceWins.inc({ model: this.models.of(event.model) });
        return;
      case 'fallback':
        this.fallbacks.inc({ result: fallbackResult(event) });
        return;
      case 'first_token':
        this.ttft.observe(this.ttft.cell({ model: this.models.of(event.model) }), event.ms / 1000);
        return;
      case 'retry_throttled':
        this.retriesThrottled.inc();
        return;
      case 'upstream_queue':
        this.upstreamSlots.on(event);
        return;
      case 'stream_restarted':
        this.streamRestarts.inc();
        return;
      case 'routed':
        this.routing.inc({ profile: this.profiles.of(event.profile), model: this.models.of(event.model) });
        return;
      case 'cache_lookup':
        this.cacheLookups.inc({ result: event.outcome });
        return;
      case 'access_rejected':
        this.accessRejections.inc({ reason: this.reasons.of(event.reason) });
        return;
      case 'model_removed':
        this.forgetModel(event.model);
        return;
    }
  };

  /**
   * A model gone from the catalog: its series leave /metrics, and its place under the label's cap
   * goes to the next model, so models that come and go never push later ones into "other".
   */
  private forgetModel(model: string): void {
    if (!this.models.forget(model)) return;
    const ofModel = (labels: Readonly<Record<string, string>>) => labels.model === model;
    const { attempts, attemptLatency, retries, tokens, cost } = this.upstream;
    for (const cells of [attempts, attemptLatency, retries, tokens, cost, this.calls.handlingByModel, this.ttft]) cells.drop(ofModel);
    for (const byModel of this.attemptSeries.values()) byModel.delete(model);
    for (const series of this.callSeries.values()) for (const s of series) s.forgetModel(model);
    this.raceWins.remove({ model });
    for (const profile of this.profiles.values()) this.routing.remove({ profile, model });
  }

  private collectBreakers(): void {
    if (!this.breakerSource) return;
    this.breakers.reset();
    this.breakerStates.reset();
    for (const reading of this.breakerSource()) {
      const labels = { provider: this.providers.of(reading.provider), model: this.models.of(reading.model) };
      this.breakers.set(labels, BREAKER_VALUE[reading.state]);
      for (const state of BREAKER_STATES) this.breakerStates.set(extend(labels, { state }), state === reading.state ? 1 : 0);
    }
  }

  /** The series of a call's method and door; methods past the label's cap share the "other" series. */
  private seriesOf(call: StartedCall): CallSeries {
    const known = this.callSeries.get(call.path);
    if (known) {
      for (const series of known) if (series.protocol === call.protocol && series.kind === call.kind) return series;
    }
    const [, service = '', method = ''] = /^\/([^/]*)\/(.*)$/.exec(call.path) ?? [];
    // Service and method together, so the guard counts whole methods.
    const bounded = this.methods.of(`${service}/${method}`) !== 'other';
    const series = new CallSeries(this.calls, {
      grpc_service: bounded ? service : 'other',
      grpc_method: bounded ? method : 'other',
      grpc_type: call.kind,
      protocol: call.protocol,
    });
    // A path past the cap is not kept: the cache stays as bounded as the label.
    if (bounded) this.callSeries.set(call.path, known ? [...known, series] : [series]);
    return series;
  }

  private attemptSeriesOf(provider: string, model: string): AttemptSeries {
    let byModel = this.attemptSeries.get(provider);
    const known = byModel?.get(model);
    if (known) return known;
    const labels = { provider: this.providers.of(provider), model: this.models.of(model) };
    const series = new AttemptSeries(this.upstream, labels);
    // Values past a label's cap are not kept: the cache stays as bounded as the labels.
    if (labels.provider !== 'other' && labels.model !== 'other') {
      if (!byModel) {
        byModel = new Map();
        this.attemptSeries.set(provider, byModel);
      }
      byModel.set(model, series);
    }
    return series;
  }

  private valueCells(kind: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[]): ValueCells {
    return new ValueCells(this.registry, { kind, name, help, labelNames });
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

/** Who answered a Fallback call, as its counter's `result` label. */
function fallbackResult(event: Extract<GatewayEvent, { type: 'fallback' }>): string {
  if (event.failed) return 'failed';
  if (event.defaultMessage) return 'default_message';
  return event.triggered ? 'fallback' : 'primary';
}
