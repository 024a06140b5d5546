import type { AttemptRecord } from '../domain/chat.js';
import { roundUsd, sumUsd } from '../domain/money.js';
import { type FinishedCall, type GatewayEvent, waitedForSlot } from '../engine/index.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { byCodeUnit } from '../domain/order.js';

export interface UpstreamCounters {
  readonly name: string;
  readonly requests: number;
  readonly successes: number;
  readonly errors: number;
  readonly cancelled: number;
  readonly errorRate: number;
  readonly latency: LatencySummary;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly costUsd: number;
  readonly raceWins: number;
  readonly retries: number;
  readonly skipped: number;
  /** Provider rows: calls that waited for a slot under the cap on requests in flight, and calls refused one. */
  readonly queueWaits: number;
  readonly queueRejections: number;
}

export interface MethodCounters {
  readonly method: string;
  readonly requests: number;
  readonly successes: number;
  readonly errors: number;
  readonly latency: LatencySummary;
}

export interface StatsSnapshot {
  readonly startedAt: Date;
  readonly uptimeSeconds: number;
  readonly totalRequests: number;
  readonly successfulRequests: number;
  readonly failedRequests: number;
  readonly errorRate: number;
  readonly latency: LatencySummary;
  readonly timeToFirstToken: LatencySummary;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalCostUsd: number;
  readonly raceWins: number;
  readonly fallbacksTriggered: number;
  readonly defaultMessagesServed: number;
  readonly retries: number;
  readonly retriesThrottled: number;
  readonly streamRestarts: number;
  readonly cache: { readonly hits: number; readonly misses: number; readonly staleServed: number };
  /** Calls a valid key made that its limits, budgets or models refused, by ErrorInfo reason (not missing or unknown keys). */
  readonly accessRejections: Readonly<Record<string, number>>;
  readonly routing: readonly { readonly profile: string; readonly model: string; readonly decisions: number }[];
  readonly providers: readonly UpstreamCounters[];
  readonly models: readonly UpstreamCounters[];
  readonly methods: readonly MethodCounters[];
}

/** The counters a StatsStore holds, JSON-safe, so the stores of several workers can be added up. */
export interface StatsState {
  readonly startedAt: number;
  readonly providers: readonly UpstreamState[];
  readonly models: readonly UpstreamState[];
  readonly methods: readonly {
    readonly method: string;
    readonly requests: number;
    readonly successes: number;
    readonly errors: number;
    readonly latency: string;
  }[];
  readonly callLatency: string;
  readonly ttft: string;
  readonly raceWins: number;
  readonly fallbacksTriggered: number;
  readonly defaultMessagesServed: number;
  readonly retriesThrottled: number;
  readonly streamRestarts: number;
  readonly cacheLookups: { readonly hit: number; readonly miss: number; readonly stale: number };
  readonly accessRejections: Readonly<Record<string, number>>;
  readonly routing: Readonly<Record<string, number>>;
}

interface UpstreamState {
  readonly name: string;
  readonly counts: Readonly<Record<UpstreamCount, number>>;
  readonly latency: string;
}

const UPSTREAM_COUNTS = [
  'requests',
  'successes',
  'errors',
  'cancelled',
  'promptTokens',
  'completionTokens',
  'costUsd',
  'raceWins',
  'retries',
  'skipped',
  'queueWaits',
  'queueRejections',
] as const;
type UpstreamCount = (typeof UPSTREAM_COUNTS)[number];

export class Upstream {
  requests = 0;
  successes = 0;
  errors = 0;
  cancelled = 0;
  promptTokens = 0;
  completionTokens = 0;
  costUsd = 0;
  raceWins = 0;
  retries = 0;
  skipped = 0;
  queueWaits = 0;
  queueRejections = 0;
  readonly latency = new LatencyHistogram();

  constructor(readonly name: string) {}

  exportState(): UpstreamState {
    const counts = Object.fromEntries(UPSTREAM_COUNTS.map((k) => [k, this[k]])) as Record<UpstreamCount, number>;
    return { name: this.name, counts, latency: this.latency.encode() };
  }

  addState(state: UpstreamState): void {
    for (const k of UPSTREAM_COUNTS) this[k] += state.counts[k] ?? 0;
    this.latency.addEncoded(state.latency);
  }

  add(record: AttemptRecord): void {
    if (record.outcome === 'skipped') {
      this.skipped += 1;
      return;
    }
    this.requests += 1;
    if (record.retry > 0) this.retries += 1;
    if (record.outcome === 'success') this.successes += 1;
    else if (record.outcome === 'cancelled') this.cancelled += 1;
    else this.errors += 1;
    this.promptTokens += record.usage.promptTokens;
    this.completionTokens += record.usage.completionTokens;
    this.costUsd += record.costUsd;
    this.latency.record(record.latencyMs);
  }

  snapshot(): UpstreamCounters {
    const finished = this.successes + this.errors;
    return {
      name: this.name,
      requests: this.requests,
      successes: this.successes,
      errors: this.errors,
      cancelled: this.cancelled,
      errorRate: finished === 0 ? 0 : this.errors / finished,
      latency: this.latency.summary(),
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      costUsd: roundUsd(this.costUsd),
      raceWins: this.raceWins,
      retries: this.retries,
      skipped: this.skipped,
      queueWaits: this.queueWaits,
      queueRejections: this.queueRejections,
    };
  }
}

class Method {
  requests = 0;
  successes = 0;
  errors = 0;
  readonly latency = new LatencyHistogram();
  constructor(readonly method: string) {}
}

/** In-process counters since start. Calls are counted per RPC; tokens and cost per attempt. */
/** Embed calls are model calls too: counted as the method "Embed". */
const EMBED_PATH = '/orchestrator.v1.EmbeddingService/Embed';

export class StatsStore {
  private startedAt = new Date();
  private readonly providers = new Map<string, Upstream>();
  private readonly models = new Map<string, Upstream>();
  private readonly methods = new Map<string, Method>();
  private readonly callLatency = new LatencyHistogram();
  private readonly ttft = new LatencyHistogram();
  private raceWins = 0;
  private fallbacksTriggered = 0;
  private defaultMessagesServed = 0;
  private retriesThrottled = 0;
  private streamRestarts = 0;
  private readonly cacheLookups = { hit: 0, miss: 0, stale: 0 };
  private readonly accessRejections = new Map<string, number>();
  /** "profile\u0000model" -> decisions */
  private readonly routing = new Map<string, number>();

  /** Only ChatService methods (and Embed) count as requests; health, reflection and stats calls do not. */
  constructor(private readonly countedService = '/orchestrator.v1.ChatService/') {}

  /** The listener on the event port. */
  readonly on = (event: GatewayEvent): void => {
    switch (event.type) {
      case 'call_finished':
        this.recordCall(event.call);
        return;
      case 'attempt':
        upstream(this.providers, event.record.provider).add(event.record);
        upstream(this.models, event.record.model).add(event.record);
        return;
      case 'upstream_queue': {
        const provider = upstream(this.providers, event.provider);
        if (event.outcome === 'rejected') provider.queueRejections += 1;
        if (waitedForSlot(event)) provider.queueWaits += 1;
        return;
      }
      case 'race_won':
        this.raceWins += 1;
        upstream(this.models, event.model).raceWins += 1;
        return;
      case 'fallback':
        if (event.triggered) this.fallbacksTriggered += 1;
        if (event.defaultMessage) this.defaultMessagesServed += 1;
        return;
      case 'first_token':
        this.ttft.record(event.ms);
        return;
      case 'retry_throttled':
        this.retriesThrottled += 1;
        return;
      case 'stream_restarted':
        this.streamRestarts += 1;
        return;
      case 'cache_lookup':
        this.cacheLookups[event.outcome] += 1;
        return;
      case 'access_rejected':
        this.accessRejections.set(event.reason, (this.accessRejections.get(event.reason) ?? 0) + 1);
        return;
      case 'routed': {
        const key = `${event.profile}\u0000${event.model}`;
        this.routing.set(key, (this.routing.get(key) ?? 0) + 1);
        return;
      }
      case 'model_removed':
        // A model that no longer exists is not listed; its calls stay in the totals and its provider's row.
        this.models.delete(event.model);
        for (const key of this.routing.keys()) if (key.endsWith(`\u0000${event.model}`)) this.routing.delete(key);
        return;
      case 'call_started':
        return;
    }
  };

  private recordCall(call: FinishedCall): void {
    const { path, code, latencyMs } = call;
    const embed = path === EMBED_PATH;
    if (!embed && !path.startsWith(this.countedService)) return;
    const ok = code === 'OK';
    const name = embed ? 'Embed' : path.slice(this.countedService.length);
    let method = this.methods.get(name);
    if (!method) {
      method = new Method(name);
      this.methods.set(name, method);
    }
    method.requests += 1;
    if (ok) method.successes += 1;
    else method.errors += 1;
    method.latency.record(latencyMs);
    this.callLatency.record(latencyMs);
  }

  exportState(): StatsState {
    return {
      startedAt: this.startedAt.getTime(),
      providers: [...this.providers.values()].map((u) => u.exportState()),
      models: [...this.models.values()].map((u) => u.exportState()),
      methods: [...this.methods.values()].map((m) => ({
        method: m.method,
        requests: m.requests,
        successes: m.successes,
        errors: m.errors,
        latency: m.latency.encode(),
      })),
      callLatency: this.callLatency.encode(),
      ttft: this.ttft.encode(),
      raceWins: this.raceWins,
      fallbacksTriggered: this.fallbacksTriggered,
      defaultMessagesServed: this.defaultMessagesServed,
      retriesThrottled: this.retriesThrottled,
      streamRestarts: this.streamRestarts,
      cacheLookups: { ...this.cacheLookups },
      accessRejections: Object.fromEntries(this.accessRejections),
      routing: Object.fromEntries(this.routing),
    };
  }

  /** One store holding the sum of several (the workers of a cluster); it started when the first did. */
  static merged(states: readonly StatsState[]): StatsStore {
    const store = new StatsStore();
    for (const state of states) store.addState(state);
    return store;
  }

  private addState(s: StatsState): void {
    if (s.startedAt < this.startedAt.getTime()) this.startedAt = new Date(s.startedAt);
    for (const p of s.providers) upstream(this.providers, p.name).addState(p);
    for (const m of s.models) upstream(this.models, m.name).addState(m);
    for (const m of s.methods) {
      let method = this.methods.get(m.method);
      if (!method) {
        method = new Method(m.method);
        this.methods.set(m.method, method);
      }
      method.requests += m.requests;
      method.successes += m.successes;
      method.errors += m.errors;
      method.latency.addEncoded(m.latency);
    }
    this.callLatency.addEncoded(s.callLatency);
    this.ttft.addEncoded(s.ttft);
    this.raceWins += s.raceWins;
    this.fallbacksTriggered += s.fallbacksTriggered;
    this.defaultMessagesServed += s.defaultMessagesServed;
    this.retriesThrottled += s.retriesThrottled;
    this.streamRestarts += s.streamRestarts;
    this.cacheLookups.hit += s.cacheLookups.hit;
    this.cacheLookups.miss += s.cacheLookups.miss;
    this.cacheLookups.stale += s.cacheLookups.stale;
    for (const [reason, n] of Object.entries(s.accessRejections))
      this.accessRejections.set(reason, (this.accessRejections.get(reason) ?? 0) + n);
    for (const [key, n] of Object.entries(s.routing)) this.routing.set(key, (this.routing.get(key) ?? 0) + n);
  }

  snapshot(now = new Date()): StatsSnapshot {
    const methods = [...this.methods.values()];
    const total = methods.reduce((n, m) => n + m.requests, 0);
    const failed = methods.reduce((n, m) => n + m.errors, 0);
    const models = [...this.models.values()].map((m) => m.snapshot());
    // Totals over the providers: every attempt counts under both, and a deleted model's row is gone.
    const providers = [...this.providers.values()].map((p) => p.snapshot());
    return {
      startedAt: this.startedAt,
      uptimeSeconds: (now.getTime() - this.startedAt.getTime()) / 1000,
      totalRequests: total,
      successfulRequests: total - failed,
      failedRequests: failed,
      errorRate: total === 0 ? 0 : failed / total,
      latency: this.callLatency.summary(),
      timeToFirstToken: this.ttft.summary(),
      promptTokens: providers.reduce((n, p) => n + p.promptTokens, 0),
      completionTokens: providers.reduce((n, p) => n + p.completionTokens, 0),
      totalCostUsd: sumUsd(providers.map((p) => p.costUsd)),
      raceWins: this.raceWins,
      fallbacksTriggered: this.fallbacksTriggered,
      defaultMessagesServed: this.defaultMessagesServed,
      retries: providers.reduce((n, p) => n + p.retries, 0),
      retriesThrottled: this.retriesThrottled,
      streamRestarts: this.streamRestarts,
      cache: { hits: this.cacheLookups.hit, misses: this.cacheLookups.miss, staleServed: this.cacheLookups.stale },
      accessRejections: Object.fromEntries(this.accessRejections),
      routing: [...this.routing.entries()]
        .map(([key, decisions]) => {
          const [profile = '', model = ''] = key.split('\u0000');
          return { profile, model, decisions };
        })
        .sort((a, b) => byCodeUnit(a.profile, b.profile) || byCodeUnit(a.model, b.model)),
      providers: sorted(providers),
      models: sorted(models),
      methods: methods
        .map((m) => ({
          method: m.method,
          requests: m.requests,
          successes: m.successes,
          errors: m.errors,
          latency: m.latency.summary(),
        }))
        .sort((a, b) => byCodeUnit(a.method, b.method)),
    };
  }
}

function upstream(map: Map<string, Upstream>, name: string): Upstream {
  let entry = map.get(name);
  if (!entry) {
    entry = new Upstream(name);
    map.set(name, entry);
  }
  return entry;
}

function sorted(rows: UpstreamCounters[]): UpstreamCounters[] {
  return rows.sort((a, b) => byCodeUnit(a.name, b.name));
}
