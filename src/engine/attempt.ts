import { attemptRecord, endpointOf, skippedRecord, type FinishOptions } from './attempt-errors.js';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { BrokenCircuitError, type CircuitBreakerPolicy, type RetryPolicy } from 'cockatiel';
import type { CatalogModel } from '../catalog/catalog.js';
import type { AttemptRecord, ChatMessage, Sampling } from '../domain/chat.js';
import { type OrchestratorError, cancelled } from '../domain/errors.js';
import type { Tooling } from '../domain/tools.js';
import { providerRequest } from './provider-request.js';
import { COMPLETION, type UpstreamCall } from './upstream-call.js';
import type { Provider, ProviderStreamEvent } from '../providers/types.js';
import type { EventSink } from './events.js';
import type { UpstreamObserver } from './context.js';
import type { ProviderLookup } from './ports.js';
import { CallRetries, RetryLater, sharedRetryPolicy, unwrapRetry } from './resilience/retry.js';
import type { BreakerRegistry, BreakerState } from './resilience/breakers.js';
import { spendsRetryBudget } from './resilience/failures.js';
import type { RetryBudgets } from './resilience/retry-budget.js';
import { childSignal } from './signals.js';
import { StallWatchdog } from './stall-watchdog.js';
import { readsOf } from './stream-reads.js';
import { StreamUsage } from './stream-usage.js';
import { abortReason, asOrchestratorError, circuitOpen, logBug, notServed, stalled, timeoutOf, usageSoFar } from './attempt-errors.js';
import { throughBreaker, unaryThroughBreaker, type Guarded } from './resilience/guard.js';
import type { InFlightGates, Release } from './resilience/in-flight.js';

/** Calls to one model for one request. Every strategy goes through AttemptRunner. */
export interface AttemptSpec {
  readonly model: CatalogModel;
  readonly messages: readonly ChatMessage[];
  readonly temperature: number;
  readonly maxTokens: number;
  readonly sampling?: Sampling | undefined;
  readonly tooling?: Tooling | undefined;
  /** The parent: the call's signal, or a strategy's signal derived from it. */
  readonly signal: AbortSignal;
  /** Epoch ms; no retry waits past it. */
  readonly deadline: number;
  /** Budget of each upstream call (unary only); the parent's deadline applies regardless. */
  readonly timeoutMs?: number;
  /** Streams only: give up on a model silent this long before its first token / between tokens (0: never). */
  readonly firstTokenTimeoutMs?: number;
  readonly interTokenTimeoutMs?: number;
  /** The call's upstream observer (CallContext.upstream): trace headers, upstream time, usage charged to limits. */
  readonly upstream?: UpstreamObserver | undefined;
  /** The call's logger: a refused usage report is logged here. */
  readonly log?: Logger | undefined;
}

import type { AttemptResult, OpenStreamResult, RetryOptions } from './attempt-results.js';
export type { AttemptResult, OpenedStream, OpenStreamResult, RetryOptions } from './attempt-results.js';

export type TryInfo = { readonly retry: number; readonly backoffMs: number };

type OnRecord = (record: AttemptRecord) => void;

export interface AttemptRunnerOptions {
  readonly providers: ProviderLookup;
  /** Told about every attempt once, as it ends: stats, metrics, routing's live statistics. */
  readonly events: EventSink;
  readonly breakers: BreakerRegistry;
  readonly budgets: RetryBudgets;
  readonly retry: RetryOptions;
  /** Per-provider caps on requests in flight; absent: no cap. */
  readonly gates?: InFlightGates | undefined;
}

const NO_SLOT: Release = () => undefined;

/**
 * The one attempt primitive. Policy order, outermost first: retry (cockatiel, full-jitter
 * backoff or the upstream's Retry-After, within the deadline and the retry budget), circuit
 * breaker (per model endpoint), per-call timeout and stream stall watchdog. Every upstream call
 * is recorded (usage, cost, latency, outcome) in the telemetry and in the returned records.
 */
export class AttemptRunner {
  private readonly retryPolicy: RetryPolicy;

  constructor(readonly options: AttemptRunnerOptions) {
    this.retryPolicy = sharedRetryPolicy(options.retry.maxAttempts);
  }

  breakerState(model: CatalogModel): BreakerState {
    const provider = this.providerOf(model);
    return provider ? this.options.breakers.state(endpointOf(provider, model)) : 'closed';
  }

  /** Milliseconds until the model's open breaker admits a probe; 0 when it is not open. */
  coolDownLeftMs(model: CatalogModel): number {
    const provider = this.providerOf(model);
    return provider ? this.options.breakers.coolDownLeftMs(endpointOf(provider, model)) : 0;
  }

  /** Whether an attempt would be skipped now without calling anything: no provider, or an open breaker. */
  skipsNow(model: CatalogModel): boolean {
    return !this.providerOf(model) || this.breakerState(model) === 'open';
  }

  /** A chat completion from one model, with its retries. */
  run(spec: AttemptSpec): Promise<AttemptResult> {
    return this.call(spec, COMPLETION);
  }

  /** One model's unary answer of any kind (`upstream` says what it asks), with its retries, breaker and records. */
  async call<S extends AttemptSpec, R>(spec: S, upstream: UpstreamCall<S, R>): Promise<AttemptResult<R>> {
    const provider = this.providerOf(spec.model);
    if (!provider) return { ok: false, error: notServed(spec.model), records: [this.skipped(spec.model, notServed(spec.model))] };
    const records: AttemptRecord[] = [];
    try {
      const done = await this.resilient(spec, provider, async (info) => {
        const slot = this.slot(spec, provider, info, (r) => records.push(r));
        const release = typeof slot === 'function' ? slot : await slot;
        try {
          const result = await this.once(spec, provider, info, upstream);
          records.push(result.record);
          if (!result.ok) throw result.error;
          return { value: result };
        } finally {
          release();
        }
      });
      return { ok: true, value: done.value, record: done.record, records };
    } catch (err) {
      return { ok: false, error: this.failureOf(err, spec, records), records };
    }
  }

  /**
   * Opens a stream and waits for its first event, retrying (and honouring the breaker) until
   * then. After the first token nothing is retried: the caller already relayed it. The breaker
   * judges the stream when it ends: a clean end is a success, a failure after tokens (cut,
   * stall, malformed chunk) is a failure; the first token alone proves nothing.
   */
  async openStream(spec: AttemptSpec, onRecord: OnRecord): Promise<OpenStreamResult> {
    const provider = this.providerOf(spec.model);
    if (!provider) {
      onRecord(this.skipped(spec.model, notServed(spec.model)));
      return { ok: false, error: notServed(spec.model) };
    }
    const records: AttemptRecord[] = [];
    const record = (r: AttemptRecord): void => {
      records.push(r);
      onRecord(r);
    };
    try {
      const stream = await this.resilient(
        spec,
        provider,
        async (info) => {
          // Held until the stream ends, however it ends.
          const slot = this.slot(spec, provider, info, record);
          const release = typeof slot === 'function' ? slot : await slot;
          let settle: (error: OrchestratorError | undefined) => void = () => undefined;
          const outcome = new Promise<void>((resolve, reject) => {
            settle = (error) => (error ? reject(error) : resolve());
          });
          // Only the breaker awaits it, and only once the stream opened.
          outcome.catch(() => undefined);
          let markJudged: () => void = () => undefined;
          const judged = new Promise<void>((resolve) => {
            markJudged = resolve;
          });
          const rest = this.streamOnce({
            spec,
            provider,
            info,
            onRecord: record,
            onEnd: (error) => {
              release();
              settle(error);
            },
          });
          const first = await rest.next();
          if (first.done) throw new Error(`provider stream for ${spec.model.id} ended without an event`);
          return { value: { model: spec.model, provider: provider.name, first: first.value, rest, judged }, outcome, judged: markJudged };
        },
        true,
      );
      return { ok: true, stream };
    } catch (err) {
      const error = this.failureOf(err, spec, records);
      if (err instanceof BrokenCircuitError) onRecord(records[records.length - 1] ?? this.skipped(spec.model, error));
      return { ok: false, error };
    }
  }

  /**
   * Runs `call` under the shared retry policy and the model's breaker. The call's own state
   * (its retry decisions and waits) lives in one CallRetries; the policy is the runner's.
   */
  async resilient<T>(
    spec: AttemptSpec,
    provider: Provider,
    call: (info: TryInfo) => Promise<Guarded<T>>,
    /** The value settles before the outcome (a stream): the breaker waits for `outcome`. */
    streamed = false,
  ): Promise<T> {
    const endpoint = endpointOf(provider, spec.model);
    const { budgets, retry, events, breakers } = this.options;
    const breaker = breakers.for(endpoint);
    const tries = new CallRetries(spec.signal, spec.deadline, budgets.for(endpoint), retry, events, breakers, endpoint);
    try {
      return await this.retryPolicy.execute(({ attempt }) => this.tryOnce(attempt, tries, breaker, call, streamed));
    } catch (err) {
      throw unwrapRetry(err);
    }
  }

  private async tryOnce<T>(
    attempt: number,
    tries: CallRetries,
    breaker: CircuitBreakerPolicy,
    call: (info: TryInfo) => Promise<Guarded<T>>,
    streamed: boolean,
  ): Promise<T> {
    if (attempt > 0) await tries.wait();
    else if (tries.signal.aborted) throw abortReason(tries.signal);
    const start = (): Promise<Guarded<T>> => call({ retry: attempt, backoffMs: tries.waitedMs });
    try {
      return await (streamed ? throughBreaker(breaker, start) : unaryThroughBreaker(breaker, start));
    } catch (err) {
      throw tries.retries(err, attempt) ? new RetryLater(err) : err;
    }
  }

  failureOf(err: unknown, spec: AttemptSpec, records: AttemptRecord[]): OrchestratorError {
    if (err instanceof BrokenCircuitError) {
      const provider = this.providerOf(spec.model);
      const error = circuitOpen(spec.model, provider ? this.options.breakers.coolDownLeftMs(endpointOf(provider, spec.model)) : undefined);
      records.push(this.skipped(spec.model, error, records.length));
      return error;
    }
    return asOrchestratorError(err, spec.signal);
  }

  private async once<S extends AttemptSpec, R>(
    spec: S,
    provider: Provider,
    info: TryInfo,
    call: UpstreamCall<S, R>,
  ): Promise<{ ok: true; value: R; record: AttemptRecord } | { ok: false; error: OrchestratorError; record: AttemptRecord }> {
    const started = performance.now();
    const { operation } = call;
    const upstream = spec.upstream?.requestStarted({
      model: spec.model.id,
      provider: provider.name,
      retry: info.retry,
      ...(operation ? { operation } : {}),
    });
    // A child controller only when the attempt has a timeout of its own; else nothing aborts it
    // but the call (or the strategy's signal), and it runs on that signal.
    const timeout = timeoutOf(spec.model, spec.timeoutMs);
    const child = timeout ? childSignal(spec.signal, timeout) : undefined;
    const signal = child?.signal ?? spec.signal;
    const budget = this.options.budgets.for(endpointOf(provider, spec.model));
    try {
      const value = await call.send(spec, provider, signal, upstream?.headers);
      budget.onSuccess();
      const answer = call.settle(spec, provider, value);
      return {
        ok: true,
        value: answer.value,
        record: this.finish({
          spec,
          provider: provider.name,
          started,
          info,
          usage: answer.usage,
          estimated: answer.estimated,
          finishReason: answer.finishReason,
          operation,
          upstream,
        }),
      };
    } catch (err) {
      const error = asOrchestratorError(err, signal);
      if (spendsRetryBudget(error)) budget.onFailure();
      return {
        ok: false,
        error,
        record: this.finish({
          spec,
          provider: provider.name,
          started,
          info,
          ...usageSoFar(spec, { generatedChars: 0, aborted: signal.aborted, error }),
          error,
          operation,
          upstream,
        }),
      };
    } finally {
      child?.dispose();
    }
  }

  /**
   * One streamed call. The stall watchdog only runs while we wait on the upstream, never while the consumer holds a
   * yielded event (that is our backpressure, not the model stalling). Recorded once, when it ends, fails, or the
   * consumer stops pulling (then: cancelled, with the usage of what was generated so far).
   */
  private async *streamOnce(options: {
    spec: AttemptSpec;
    provider: Provider;
    info: TryInfo;
    onRecord: OnRecord;
    /** Told once, when the stream is over: undefined for a clean end. */
    onEnd: (error: OrchestratorError | undefined) => void;
  }): AsyncGenerator<readonly ProviderStreamEvent[]> {
    const { spec, provider, info, onRecord } = options;
    const started = performance.now();
    const upstream = spec.upstream?.requestStarted({ model: spec.model.id, provider: provider.name, retry: info.retry });
    const child = childSignal(spec.signal);
    const budget = this.options.budgets.for(endpointOf(provider, spec.model));
    const watchdog = new StallWatchdog((phase, ms) => child.abort(stalled(spec.model, phase, ms)));
    const tally = new StreamUsage(spec, { log: spec.log, model: spec.model.id, provider: provider.name });
    let error: OrchestratorError | undefined;
    try {
      watchdog.wait(spec.firstTokenTimeoutMs, 'first_token');
      const onProgress = (thoughtChars: number): void => {
        watchdog.progress();
        tally.onThought(thoughtChars);
      };
      const hooks = { onProgress, onPromptUsage: tally.onPromptUsage, onAnswerUsage: tally.onAnswerUsage };
      for await (const events of readsOf(provider, providerRequest(spec, child.signal, upstream?.headers, hooks))) {
        watchdog.hold();
        yield tally.count(events);
        watchdog.wait(spec.interTokenTimeoutMs, 'inter_token');
      }
      budget.onSuccess();
    } catch (err) {
      error = asOrchestratorError(err, child.signal);
      if (spendsRetryBudget(error)) budget.onFailure();
      throw error;
    } finally {
      watchdog.stop();
      if (!tally.ended && !error) {
        // The consumer stopped pulling: make sure the upstream request closes too.
        child.abort(cancelled('stream abandoned'));
        error = asOrchestratorError(child.signal.reason, child.signal);
      }
      child.dispose();
      options.onEnd(error);
      onRecord(
        this.finish({
          spec,
          provider: provider.name,
          started,
          info,
          ...tally.charged(child.signal.aborted, error),
          ...(error ? { error } : {}),
          upstream,
        }),
      );
    }
  }

  /**
   * A slot under the provider's cap on requests in flight; a refusal is recorded as a skipped
   * attempt. A free slot comes back as it is, not in a promise: the callers await only a wait.
   */
  slot(spec: AttemptSpec, provider: Provider, info: TryInfo, onRecord: OnRecord): Release | Promise<Release> {
    const gate = this.options.gates?.for(provider.name);
    if (!gate) return NO_SLOT;
    const refused = (err: unknown): never => {
      const error = asOrchestratorError(err, spec.signal);
      onRecord(this.skipped(spec.model, error, info.retry));
      throw error;
    };
    try {
      const slot = gate.acquire(spec.signal, spec.deadline);
      return typeof slot === 'function' ? slot : slot.catch(refused);
    } catch (err) {
      return refused(err);
    }
  }

  providerOf(model: CatalogModel): Provider | undefined {
    return model.servedBy === undefined ? undefined : this.options.providers.get(model.servedBy);
  }

  skipped(model: CatalogModel, error: OrchestratorError, retry = 0): AttemptRecord {
    const record = skippedRecord(model, error, retry);
    this.options.events.emit({ type: 'attempt', record });
    return record;
  }

  finish(options: FinishOptions): AttemptRecord {
    const record = attemptRecord(options);
    // Once for the process (events), once for the call (its upstream request).
    this.options.events.emit({ type: 'attempt', record });
    options.upstream?.ended(record);
    logBug(options.spec.log, record);
    return record;
  }
}
