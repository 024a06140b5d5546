import { performance } from 'node:perf_hooks';
import { type AttemptRecord, TAG_LIMITS } from '../domain/chat.js';
import { roundUsd } from '../domain/money.js';
import { failedRequestOf } from '../domain/upstream-errors.js';
import type {
  CallAnswer,
  CallRequestFacts,
  RelayedSoFar,
  RouteDecision,
  UpstreamAttempt,
  UpstreamObserver,
  UpstreamRequest,
} from '../engine/index.js';
import type { CallTrace } from './tracing.js';

/** What a call used upstream, for its log line. */
export interface CallUsage {
  /** The model and provider of the last successful upstream request (the answer's). */
  readonly model: string | undefined;
  /** Successful requests of this call came from more than one model (a Batch). */
  readonly severalModels: boolean;
  readonly provider: string | undefined;
  /** Upstream requests sent (retries and race losers included; breaker skips are not requests). */
  readonly attempts: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly costUsd: number;
}

/**
 * Failed upstream requests a call's log line names (a Batch of 100 items retried 10 times
 * each would make a line of 1,000): the first ones, where a failure started.
 */
const LOGGED_FAILED_REQUESTS = 20;

/** Made once per door (or route), not per call. */
export interface CallSummaryOptions {
  readonly keepsAnswerText?: boolean | undefined;
  readonly now?: (() => number) | undefined;
}

/** The default clock, one function for every call rather than a closure made per call. */
const performanceNow = (): number => performance.now();

/**
 * Per-call telemetry that the engine feeds through the CallContext (as its upstream observer)
 * and the logging interceptor reads when the call ends: the trace, the usage summed over every
 * upstream request, and the upstream time.
 *
 * Upstream time is wall time during which at least one upstream request of this call was open:
 * the union of the intervals from just before each provider call until its attempt record is
 * written (answer received, stream ended, failed, timed out or aborted). Parallel requests
 * (race, hedging, batch items) count once; backoff sleeps between retries do not count; a
 * stream counts until its upstream response ends, including time spent waiting on our own
 * slow reader. Gateway overhead = call duration - upstream time - the time the request (an HTTP
 * body, a gRPC request message) took to arrive after its headers.
 */
export class CallSummary implements UpstreamObserver {
  private open = 0;
  private busySince = 0;
  private busyMs = 0;
  private attempts = 0;
  private promptTokens = 0;
  private completionTokens = 0;
  private costUsd = 0;
  private model: string | undefined;
  private provider: string | undefined;
  private severalModels = false;
  private requestTags: Record<string, string> | undefined;
  private request: CallRequestFacts | undefined;
  private answerList: CallAnswer[] | undefined;
  private error: unknown;
  private decision: RouteDecision | undefined;
  private relayedSoFar: (() => RelayedSoFar) | undefined;
  private failedRequests: string[] | undefined;
  /** A handler is at work on the call; `afterRun` waits for it. */
  private running = false;
  private whenSettled: (() => void) | undefined;

  readonly keepsAnswerText: boolean;
  private readonly now: () => number;

  constructor(
    readonly trace: CallTrace,
    options: CallSummaryOptions = {},
  ) {
    this.keepsAnswerText = options.keepsAnswerText ?? false;
    this.now = options.now ?? performanceNow;
  }

  /** An upstream request is about to be sent (the engine's upstream observer hook). */
  requestStarted(info: UpstreamAttempt): UpstreamRequest {
    if (this.open === 0) this.busySince = this.now();
    this.open += 1;
    this.attempts += 1;
    const span = this.trace.startAttempt(info);
    let ended = false;
    return {
      headers: span.headers,
      ended: (record) => {
        if (ended) return;
        ended = true;
        this.open -= 1;
        if (this.open === 0) this.busyMs += this.now() - this.busySince;
        this.promptTokens += record.usage.promptTokens;
        this.completionTokens += record.usage.completionTokens;
        this.costUsd += record.costUsd;
        if (record.outcome === 'success') {
          if (this.model !== undefined && this.model !== record.model) this.severalModels = true;
          this.model = record.model;
          this.provider = record.provider;
        } else if (record.error !== undefined) this.failedRequest(record);
        span.end(record);
      },
    };
  }

  private failedRequest(record: AttemptRecord): void {
    const named = failedRequestOf(record);
    if (named === undefined) return;
    this.failedRequests ??= [];
    if (this.failedRequests.length < LOGGED_FAILED_REQUESTS) this.failedRequests.push(named);
  }

  /** `model:id` of the call's failed upstream requests, by the upstream's own ids (the first LOGGED_FAILED_REQUESTS); undefined: none. */
  upstreamRequestIds(): readonly string[] | undefined {
    return this.failedRequests;
  }

  /** The first request told counts (a Batch's items each tell theirs). */
  requested(request: CallRequestFacts): void {
    this.request ??= request;
  }

  answered(answer: CallAnswer): void {
    if (this.answerList) this.answerList.push(answer);
    else this.answerList = [answer];
  }

  failed(error: unknown): void {
    this.error ??= error;
  }

  routed(decision: RouteDecision): void {
    this.decision ??= decision;
  }

  relaying(relayed: () => RelayedSoFar): void {
    this.relayedSoFar = relayed;
  }

  /** The handler took the call. */
  begin(): void {
    this.running = true;
  }

  /** The handler is done with the call: what waited for it runs. */
  settle(): void {
    this.running = false;
    const then = this.whenSettled;
    this.whenSettled = undefined;
    then?.();
  }

  /**
   * `then` once the handler is done, at once if none is at work: a call the client cancelled ends
   * for the client at once, but its attempts are recorded as they end, after it.
   */
  afterRun(then: () => void): void {
    if (this.running) this.whenSettled = then;
    else then();
  }

  /** What the call asked, answered, and why it failed: for the record of the call. */
  outcome(): {
    request: CallRequestFacts | undefined;
    answers: readonly CallAnswer[];
    error: unknown;
    decision: RouteDecision | undefined;
    relayed: RelayedSoFar | undefined;
  } {
    return {
      request: this.request,
      answers: this.answerList ?? [],
      error: this.error,
      decision: this.decision,
      relayed: this.relayedSoFar?.(),
    };
  }

  /**
   * The caller's request tags, for the log line and the trace; a Batch's items add theirs. A
   * key already held takes the newer value; past TAG_LIMITS.maxKeys keys new ones are left out,
   * so a Batch whose items each carry their own keys makes a line no larger than one request's,
   * and merging them costs each item its own tags only, not a copy of all the earlier ones.
   */
  tag(tags: Readonly<Record<string, string>>): void {
    // Without a prototype, a key named __proto__ is a tag like any other.
    const held = this.requestTags ?? (Object.create(null) as Record<string, string>);
    this.requestTags = held;
    const kept = Object.create(null) as Record<string, string>;
    let any = false;
    let count = Object.keys(held).length;
    for (const [key, value] of Object.entries(tags)) {
      if (!Object.hasOwn(held, key)) {
        if (count >= TAG_LIMITS.maxKeys) continue;
        count += 1;
      }
      held[key] = value;
      kept[key] = value;
      any = true;
    }
    if (any) this.trace.tag?.(kept);
  }

  /** Undefined when the caller sent none. */
  tags(): Readonly<Record<string, string>> | undefined {
    return this.requestTags;
  }

  /** Upstream time so far (a request still open counts up to now). */
  upstreamMs(): number {
    return this.busyMs + (this.open > 0 ? this.now() - this.busySince : 0);
  }

  /** Undefined when the call sent nothing upstream. */
  usage(): CallUsage | undefined {
    if (this.attempts === 0) return undefined;
    return {
      model: this.model,
      provider: this.provider,
      severalModels: this.severalModels,
      attempts: this.attempts,
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      costUsd: roundUsd(this.costUsd),
    };
  }
}
