import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GatewayEvent, InFlightReading, StartedCall } from '../engine/index.js';
import { buildInfo, type BuildInfo } from './build-info.js';
import { InFlightMetrics } from './in-flight-metrics.js';

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

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
const BREAKER_STATES = ['closed', 'half_open', 'open'] as const;

export class Metrics {
  readonly registry = new Registry();
  private breakerSource: (() => Iterable<BreakerReading>) | undefined;

  private readonly methods = new BoundedLabel(256);
  private readonly models = new BoundedLabel(1000);
  private readonly providers = new BoundedLabel(100);
  private readonly reasons = new BoundedLabel(64);
  private readonly profiles = new BoundedLabel(16);

  private readonly started = this.counter('grpc_server_started_total', 'gRPC calls started.', [
    'grpc_service',
    'grpc_method',
    'grpc_type',
    'protocol',
  ]);
  private readonly handled = this.counter('grpc_server_handled_total', 'gRPC calls finished, by status code.', [
    'grpc_service',
    'grpc_method',
    'grpc_type',
    'grpc_code',
    'protocol',
  ]);
  private readonly handling = this.histogram(
    'grpc_server_handling_seconds',
    'gRPC call duration, arrival to status.',
    ['grpc_service', 'grpc_method', 'grpc_type', 'protocol'],
    CALL_BUCKETS,
  );
  private readonly handlingByModel = this.histogram(
    'llm_orchestrator_call_duration_seconds',
    'gRPC calls a model answered: duration, arrival to status, by the answering model.',
    ['grpc_service', 'grpc_method', 'model', 'protocol'],
    CALL_BUCKETS,
  );
  private readonly inFlight = this.gauge('llm_orchestrator_in_flight_calls', 'gRPC calls in progress.', [
    'grpc_service',
    'grpc_method',
    'protocol',
  ]);
  private readonly openStreams = this.gauge('llm_orchestrator_open_streams', 'Streaming gRPC calls in progress.', [
    'grpc_service',
    'grpc_method',
    'protocol',
  ]);
  private readonly overhead = this.histogram(
    'llm_orchestrator_gateway_overhead_seconds',
    'Calls that went upstream: duration minus the wall time during which an upstream request of the call was open.',
    ['grpc_service', 'grpc_method', 'protocol'],
    OVERHEAD_BUCKETS,
  );

  private readonly attempts = this.counter(
    'llm_orchestrator_upstream_attempts_total',
    'Upstream requests, by outcome (skipped: circuit open, nothing sent).',
    ['provider', 'model', 'outcome'],
  );
  private readonly attemptLatency = this.histogram(
    'llm_orchestrator_upstream_attempt_duration_seconds',
    'Upstream request duration (streams: until the stream ended).',
    ['provider', 'model', 'outcome'],
    CALL_BUCKETS,
  );
  private readonly retries = this.counter('llm_orchestrator_upstream_retries_total', 'Upstream requests that retried a failed one.', [
    'provider',
    'model',
  ]);
  private readonly retriesThrottled = this.counter('llm_orchestrator_retries_throttled_total', 'Retries refused by the retry budget.', []);
  private readonly tokens = this.counter('llm_orchestrator_tokens_total', 'Tokens used upstream (type: input or output).', [
    'provider',
    'model',
    'type',
  ]);
  private readonly cost = this.counter('llm_orchestrator_cost_usd_total', 'US dollars spent upstream, from catalog prices.', [
    'provider',
    'model',
  ]);
  private readonly ttft = this.histogram(
    'llm_orchestrator_time_to_first_token_seconds',
    'StreamChat: call arrival to the first token relayed.',
    ['model'],
    TTFT_BUCKETS,
  );
  private readonly raceWins = this.counter('llm_orchestrator_race_wins_total', 'Races won, by model.', ['model']);
  private readonly fallbacks = this.counter(
    'llm_orchestrator_fallback_calls_total',
    'Fallback calls, by who answered: primary, fallback, default_message.',
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
    'Calls refused by access control, by ErrorInfo reason.',
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
      name: 'llm_orchestrator_breaker_state',
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
        const labels = this.callLabels(event.call);
        const where = { grpc_service: labels.grpc_service, grpc_method: labels.grpc_method, protocol: labels.protocol };
        this.started.inc(labels);
        this.inFlight.inc(where);
        if (event.call.kind !== 'unary') this.openStreams.inc(where);
        return;
      }
      case 'call_finished': {
        const { call } = event;
        const labels = this.callLabels(call);
        const where = { grpc_service: labels.grpc_service, grpc_method: labels.grpc_method, protocol: labels.protocol };
        this.handled.inc({
          grpc_service: labels.grpc_service,
          grpc_method: labels.grpc_method,
          grpc_type: labels.grpc_type,
          grpc_code: call.code,
          protocol: labels.protocol,
        });
        this.handling.observe(labels, call.latencyMs / 1000);
        if (call.model)
          this.handlingByModel.observe(
            {
              grpc_service: labels.grpc_service,
              grpc_method: labels.grpc_method,
              model: this.models.of(call.model),
              protocol: labels.protocol,
            },
            call.latencyMs / 1000,
          );
        // Only calls that went upstream: the question is what the gateway adds on top of the model.
        if (call.upstreamRequests > 0) {
          this.overhead.observe(where, Math.max(0, call.latencyMs - call.upstreamMs) / 1000);
        }
        this.inFlight.dec(where);
        if (call.kind !== 'unary') this.openStreams.dec(where);
        return;
      }
      case 'attempt': {
        const { record } = event;
        const labels = { provider: this.providers.of(record.provider), model: this.models.of(record.model) };
        this.attempts.inc({ ...labels, outcome: record.outcome });
        if (record.outcome === 'skipped') return;
        this.attemptLatency.observe({ ...labels, outcome: record.outcome }, record.latencyMs / 1000);
        if (record.retry > 0) this.retries.inc(labels);
        if (record.usage.promptTokens > 0) this.tokens.inc({ ...labels, type: 'input' }, record.usage.promptTokens);
        if (record.usage.completionTokens > 0) this.tokens.inc({ ...labels, type: 'output' }, record.usage.completionTokens);
        if (record.costUsd > 0) this.cost.inc(labels, record.costUsd);
        return;
      }
      case 'race_won':
        this.raceWins.inc({ model: this.models.of(event.model) });
        return;
      case 'fallback':
        this.fallbacks.inc({ result: event.defaultMessage ? 'default_message' : event.triggered ? 'fallback' : 'primary' });
        return;
      case 'first_token':
        this.ttft.observe({ model: this.models.of(event.model) }, event.ms / 1000);
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
    }
  };

  private collectBreakers(): void {
    if (!this.breakerSource) return;
    this.breakers.reset();
    this.breakerStates.reset();
    for (const reading of this.breakerSource()) {
      const labels = { provider: this.providers.of(reading.provider), model: this.models.of(reading.model) };
      this.breakers.set(labels, BREAKER_VALUE[reading.state]);
      for (const state of BREAKER_STATES) this.breakerStates.set({ ...labels, state }, state === reading.state ? 1 : 0);
    }
  }

  private callLabels(call: StartedCall): { grpc_service: string; grpc_method: string; grpc_type: string; protocol: string } {
    const [, service = '', method = ''] = /^\/([^/]*)\/(.*)$/.exec(call.path) ?? [];
    // Service and method together, so the guard counts whole methods.
    const known = this.methods.of(`${service}/${method}`) !== 'other';
    return {
      grpc_service: known ? service : 'other',
      grpc_method: known ? method : 'other',
      grpc_type: call.kind,
      protocol: call.protocol,
    };
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}

/** Keeps the first `max` distinct values of a label; any further value is reported as "other". */
class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}
