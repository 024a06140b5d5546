import { createHash } from 'node:crypto';
import { addUsage, totalCost, type AttemptRecord, type TokenUsage, usageTotal } from '../domain/chat.js';
import { isLostRace, isOrchestratorError } from '../domain/errors.js';
import { timeOrderedId } from '../domain/ids.js';
import { round3 } from '../domain/latency.js';
import { sumUsd } from '../domain/money.js';
import {
  type CallAnswer,
  type CallDetail,
  type FinishedCall,
  type GatewayListener,
  type RouteDecision,
  answerRecord,
} from '../engine/index.js';
import type { AttemptEntry, CallRecord, DecisionEntry, ItemDecisionEntry, Ledger, UsageCounts } from './records.js';
import { extend } from '../domain/extend.js';

/**
 * The ledger's ear on the event port: every finished chat call, through either door, becomes
 * one CallRecord. The engine and the doors describe the call in the engine's terms
 * (FinishedCall.detail); nothing here knows gRPC or HTTP.
 */

export interface LedgerListenerOptions {
  readonly content: 'none' | 'hash' | 'full';
  /** What an answer's usage costs at the model's prices (for the cost a cache hit saved). */
  readonly priceOf: (model: string, usage: TokenUsage) => number | undefined;
}

/** A finished call with what it asked and got. */
export type DetailedCall = FinishedCall & { readonly detail: CallDetail };

const SERVICE = '/orchestrator.v1.ChatService/';
const EMBED = '/orchestrator.v1.EmbeddingService/Embed';

/** The chat calls and Embed (gRPC methods and the HTTP endpoints named after them); health, stats and usage reads are not. */
export function isRecordedMethod(path: string): boolean {
  return path.startsWith(SERVICE) || path === EMBED;
}

export function ledgerListener(ledger: Ledger, options: LedgerListenerOptions): GatewayListener {
  return (event) => {
    if (event.type !== 'call_finished' || !event.call.detail || !isRecordedMethod(event.call.path)) return;
    // A call without a valid API key never reached the service: anyone could fill the ledger with them.
    if (event.call.code === 'UNAUTHENTICATED') return;
    try {
      ledger.recordCall(toCallRecord(event.call as DetailedCall, options));
    } catch {
      // A record that cannot be built must never affect the call; the counters still have it.
    }
  };
}

export function toCallRecord(call: DetailedCall, options: LedgerListenerOptions): CallRecord {
  const { detail } = call;
  const raced = detail.request?.raced ?? false;
  const answer = call.code === 'OK' ? combined(detail.answers) : undefined;
  const failure = isOrchestratorError(detail.error) ? detail.error : undefined;
  // A call that failed after answers were told (a Batch the client cancelled once some items had
  // answered) paid for them: their attempts are its cost, which budgets read back after a restart.
  const spent = answer ?? (failure?.attempts.length ? undefined : combined(detail.answers));
  const attemptRecords = spent?.attempts ?? failure?.attempts ?? [];
  const attempts = attemptRecords.map((a) => attemptEntry(a, raced));
  // Tokens are those of every attempt, as the cost is (GetStats counts the same): not only the
  // answering attempt's, which the answer's own usage is. A cache hit sent nothing upstream.
  const usage = summed(attemptRecords);
  const cacheHit = answer?.cache?.hit ?? false;
  const batch = call.path.endsWith('/Batch');
  // A Batch's items tell their prompts one by one: the call has no single prompt to keep or hash.
  const prompt = batch ? undefined : detail.request?.prompt;
  // A routed call that failed has its decision too (told before the chain ran). A Batch's
  // decisions are its items', each with how that item went.
  const decision = batch ? undefined : (answer?.decision ?? detail.decision);
  return {
    id: timeOrderedId(),
    ts: Math.round(detail.startedAtMs),
    requestId: detail.requestId,
    method: call.path,
    protocol: call.protocol,
    keyName: detail.keyName,
    requestedModel: batch ? undefined : detail.request?.model,
    // A stream that ended early answered in part: its cost is grouped under the model its client was sent text from.
    model: (answer?.model ?? detail.relayed?.model) || undefined,
    provider: (answer?.provider ?? detail.relayed?.provider) || undefined,
    outcome: call.code === 'OK' ? 'success' : 'error',
    code: call.code,
    reason: failure?.reason || undefined,
    usage,
    usageEstimated: attempts.some((a) => a.usageEstimated),
    costUsd: spent?.costUsd ?? totalCost(attemptRecords),
    costSavedUsd: answer ? costSaved(detail.answers, options) : 0,
    latencyMs: call.latencyMs,
    // A stream that ended without its answer still had a first token, if its client was sent one.
    ttftMs: answer?.timeToFirstTokenMs ?? detail.relayed?.timeToFirstTokenMs,
    fallbackTriggered: answer?.fallbackTriggered ?? false,
    defaultMessage: answer?.isDefaultMessage ?? false,
    cacheHit,
    cacheStale: answer?.cache?.stale ?? false,
    promptSha256: options.content === 'none' || !prompt ? undefined : createHash('sha256').update(prompt).digest('hex'),
    prompt: options.content === 'full' ? prompt : undefined,
    answer: options.content === 'full' && !batch ? storedText(answer, detail.relayed?.text) : undefined,
    attempts,
    decision: decision ? decisionEntry(decision) : undefined,
    itemDecisions: batch ? itemDecisions(detail.answers) : undefined,
  };
}

function itemDecisions(answers: readonly CallAnswer[]): ItemDecisionEntry[] {
  const out: ItemDecisionEntry[] = [];
  for (const a of answers) {
    if (!a.decision || !a.item) continue;
    out.push(
      extend(decisionEntry(a.decision), {
        index: a.item.index,
        outcome: a.item.ok ? 'success' : 'error',
        model: a.model || undefined,
        latencyMs: a.item.latencyMs,
        fallbackTriggered: a.fallbackTriggered ?? false,
      }),
    );
  }
  return out;
}

/** The answer; a stream that failed or was cancelled midway has none, but what its client was sent. */
function storedText(answer: CallAnswer | undefined, relayed: string | undefined): string | undefined {
  return answer ? answerRecord(answer) : relayed || undefined;
}

/** What the answers the cache gave would have cost upstream: each of a Batch's items counts, not only a lone answer. */
function costSaved(answers: readonly CallAnswer[], options: LedgerListenerOptions): number {
  return sumUsd(answers.map((a) => (a.cache?.hit ? (options.priceOf(a.model, a.usage) ?? 0) : 0)));
}

/** A Batch is one call: its items' attempts, usage and cost; a model only when every item had the same. */
function combined(answers: readonly CallAnswer[]): CallAnswer | undefined {
  if (answers.length <= 1) return answers[0];
  const models = new Set(answers.map((a) => a.model));
  const only = models.size === 1 ? answers[0] : undefined;
  const usage = usageTotal();
  for (const a of answers) addUsage(usage, a.usage);
  return {
    content: '',
    model: only?.model ?? '',
    provider: only?.provider ?? '',
    usage,
    costUsd: sumUsd(answers.map((a) => a.costUsd)),
    attempts: answers.flatMap((a) => a.attempts),
  };
}

function attemptEntry(a: AttemptRecord, raced: boolean): AttemptEntry {
  const failed = a.outcome !== 'success';
  return {
    model: a.model,
    provider: a.provider,
    outcome: a.outcome,
    code: failed ? codeName(a) : undefined,
    reason: a.error?.reason,
    latencyMs: a.latencyMs,
    usage: counts(a.usage),
    usageEstimated: a.usageEstimated ?? false,
    costUsd: a.costUsd,
    retry: a.retry,
    raced,
    lost: raced && isLostRace(a.error),
  };
}

/** The gRPC code name of a failed attempt (the error kinds are named after them). */
function codeName(a: AttemptRecord): string {
  if (a.error) return a.error.kind.toUpperCase();
  return a.outcome === 'timeout' ? 'DEADLINE_EXCEEDED' : a.outcome === 'cancelled' ? 'CANCELLED' : 'UNKNOWN';
}

function counts(u: TokenUsage): UsageCounts {
  return {
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
    totalTokens: u.totalTokens,
    cachedTokens: u.cachedTokens,
    cacheWriteTokens: u.cacheWriteTokens ?? 0,
    reasoningTokens: u.reasoningTokens ?? 0,
  };
}

function summed(attempts: readonly AttemptRecord[]): UsageCounts {
  let promptTokens = 0;
  let completionTokens = 0;
  let cachedTokens = 0;
  let cacheWriteTokens = 0;
  let reasoningTokens = 0;
  for (const a of attempts) {
    promptTokens += a.usage.promptTokens;
    completionTokens += a.usage.completionTokens;
    cachedTokens += a.usage.cachedTokens;
    cacheWriteTokens += a.usage.cacheWriteTokens ?? 0;
    reasoningTokens += a.usage.reasoningTokens ?? 0;
  }
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, cachedTokens, cacheWriteTokens, reasoningTokens };
}

function decisionEntry(d: RouteDecision): DecisionEntry {
  const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;
  return {
    profile: d.profile,
    complexity: d.complexity,
    promptTokens: d.promptTokens,
    chosenModel: d.ranking.find((r) => r.excluded === undefined)?.model.id ?? '',
    candidates: d.ranking.map((r) => ({
      model: r.model.id,
      provider: r.model.servedBy ?? r.model.provider,
      score: r.score,
      quality: round4(r.quality),
      latency: round4(r.latency),
      cost: round4(r.cost),
      reliability: round4(r.reliability),
      // The dimensions the speed and long-context profiles weigh, and the estimates behind them: as the answer listed them.
      ttft: round4(r.ttft),
      context: round4(r.context),
      estimatedCostUsd: r.estimatedCostUsd,
      expectedLatencyMs: round3(r.expectedLatencyMs),
      expectedTtftMs: round3(r.expectedTtftMs),
      contextHeadroom: round4(r.contextHeadroom),
      eligible: r.excluded === undefined,
      excludedReason: r.excluded ?? '',
    })),
  };
}
