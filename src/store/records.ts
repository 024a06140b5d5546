/** What the ledger keeps about one call: the call, each upstream attempt, the routing decision. */

export interface UsageCounts {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  /** Of promptTokens, those the provider's prompt cache served. */
  readonly cachedTokens: number;
  /** Of promptTokens, those the provider wrote to its prompt cache. */
  readonly cacheWriteTokens: number;
  /** Of completionTokens, those a reasoning model spent thinking. */
  readonly reasoningTokens: number;
}

export interface AttemptEntry {
  readonly model: string;
  readonly provider: string;
  /** success, failure, timeout, cancelled, skipped. */
  readonly outcome: string;
  /** gRPC code name of a failed attempt. */
  readonly code: string | undefined;
  readonly reason: string | undefined;
  readonly latencyMs: number;
  readonly usage: UsageCounts;
  readonly usageEstimated: boolean;
  readonly costUsd: number;
  readonly retry: number;
  /** Sent in parallel with another attempt (race, hedge). */
  readonly raced: boolean;
  /** A raced attempt stopped because another one won. */
  readonly lost: boolean;
}

export interface CandidateEntry {
  readonly model: string;
  readonly provider: string;
  readonly score: number;
  readonly quality: number;
  readonly latency: number;
  readonly cost: number;
  readonly reliability: number;
  readonly ttft: number;
  readonly context: number;
  readonly estimatedCostUsd: number;
  readonly expectedLatencyMs: number;
  readonly expectedTtftMs: number;
  readonly contextHeadroom: number;
  readonly eligible: boolean;
  readonly excludedReason: string;
}

export interface DecisionEntry {
  readonly profile: string;
  readonly complexity: string;
  readonly promptTokens: number;
  readonly chosenModel: string;
  readonly candidates: readonly CandidateEntry[];
}

/** A Batch item's routing decision, with how that item went (the Batch's own outcome covers every item). */
export interface ItemDecisionEntry extends DecisionEntry {
  /** The item's index in the Batch. */
  readonly index: number;
  readonly outcome: 'success' | 'error';
  /** The model that answered the item. */
  readonly model: string | undefined;
  readonly latencyMs: number;
  readonly fallbackTriggered: boolean;
}

export interface CallRecord {
  /** Unique per row (request ids may repeat: callers choose them). */
  readonly id: string;
  /** Epoch ms when the call arrived. */
  readonly ts: number;
  readonly requestId: string;
  /** gRPC method path. */
  readonly method: string;
  readonly protocol: 'grpc' | 'http';
  readonly keyName: string | undefined;
  readonly requestedModel: string | undefined;
  readonly model: string | undefined;
  readonly provider: string | undefined;
  readonly outcome: 'success' | 'error';
  /** gRPC status code name. */
  readonly code: string;
  readonly reason: string | undefined;
  readonly usage: UsageCounts;
  readonly usageEstimated: boolean;
  readonly costUsd: number;
  /** What a cache hit would have cost upstream (0 otherwise). */
  readonly costSavedUsd: number;
  readonly latencyMs: number;
  readonly ttftMs: number | undefined;
  readonly fallbackTriggered: boolean;
  readonly defaultMessage: boolean;
  readonly cacheHit: boolean;
  readonly cacheStale: boolean;
  readonly promptSha256: string | undefined;
  readonly prompt: string | undefined;
  readonly answer: string | undefined;
  readonly attempts: readonly AttemptEntry[];
  /** The call's routing decision (a Batch has none of its own: its items have theirs). */
  readonly decision: DecisionEntry | undefined;
  /** A Batch: each routed item's decision (absent on other calls). */
  readonly itemDecisions?: readonly ItemDecisionEntry[] | undefined;
}

/** Where calls are recorded; never blocks and never throws. */
export interface Ledger {
  recordCall(record: CallRecord): void;
}
