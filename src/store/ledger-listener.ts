import { createHash, randomUUID } from 'node:crypto';
import type { BatchResponse, ChatRequest, ChatResponse, FallbackResponse, StreamChatResponse } from '../gen/orchestrator/v1/chat.js';
import {
  attemptOutcomeToJSON,
  complexityToJSON,
  routingProfileToJSON,
  StreamStrategy,
  type Attempt,
  type Message,
  type RouteDecision,
  type Usage,
} from '../gen/orchestrator/v1/common.js';
import { codeToJSON } from '../gen/google/rpc/code.js';
import type { AttemptEntry, CallRecord, DecisionEntry, Ledger, UsageCounts } from './records.js';

/**
 * Today's adapter from the server to the ledger: a finished gRPC call as the ledger
 * interceptor saw it (request, answers, status), turned into one CallRecord. The ledger itself
 * only knows CallRecord; when the engine publishes call events, this file is what changes.
 */
export interface ObservedCall {
  readonly path: string;
  /** Epoch ms when the call arrived. */
  readonly startedAt: number;
  readonly latencyMs: number;
  readonly requestId: string;
  readonly keyName: string | undefined;
  /** gRPC status code name. */
  readonly code: string;
  readonly errorInfo: { readonly reason: string; readonly metadata: Readonly<Record<string, string>> } | undefined;
  readonly request: unknown;
  readonly responses: readonly unknown[];
}

export interface LedgerListenerOptions {
  readonly content: 'none' | 'hash' | 'full';
  /** What an answer's usage costs at the model's prices (for the cost a cache hit saved). */
  readonly priceOf: (model: string, usage: Usage) => number | undefined;
}

const SERVICE = '/orchestrator.v1.ChatService/';
const RACED_METHODS = new Set([`${SERVICE}Race`]);

const EMBED = '/orchestrator.v1.EmbeddingService/Embed';

/** The chat methods and Embed: every one is recorded; health, reflection, stats and usage reads are not. */
export function isRecordedMethod(path: string): boolean {
  return path.startsWith(SERVICE) || path === EMBED;
}

export function ledgerListener(ledger: Ledger, options: LedgerListenerOptions): (call: ObservedCall) => void {
  return (call) => {
    try {
      ledger.recordCall(toCallRecord(call, options));
    } catch {
      // A record that cannot be built must never affect the call; the counters still have it.
    }
  };
}

interface AnswerView {
  content: string;
  model: string;
  provider: string;
  usage: Usage | undefined;
  costUsd: number;
  attempts: Attempt[];
  routeDecision: RouteDecision | undefined;
  cache: { hit: boolean; stale: boolean } | undefined;
  fallbackTriggered: boolean;
  defaultMessage: boolean;
  ttftMs: number | undefined;
}

export function toCallRecord(call: ObservedCall, options: LedgerListenerOptions): CallRecord {
  const request = (call.request ?? {}) as Partial<ChatRequest> & { models?: string[] };
  const answer = call.code === 'OK' ? answerOf(call) : undefined;
  const raced = RACED_METHODS.has(call.path) || (call.path.endsWith('/StreamChat') && isRaceStream(call.request));
  const attempts = answer ? answer.attempts.map((a) => attemptEntry(a, raced)) : failedAttempts(call.errorInfo?.metadata);
  const usage = answer?.usage ? counts(answer.usage) : failedUsage(call.errorInfo?.metadata);
  const cacheHit = answer?.cache?.hit ?? false;
  const prompt = promptOf(request);
  return {
    id: randomUUID(),
    ts: call.startedAt,
    requestId: call.requestId,
    method: call.path,
    protocol: 'grpc',
    keyName: call.keyName,
    requestedModel:
      request.model || request.models?.join(',') || (request.route ? `route:${routingProfileToJSON(request.route.profile)}` : undefined),
    model: answer?.model || undefined,
    provider: answer?.provider || undefined,
    outcome: call.code === 'OK' ? 'success' : 'error',
    code: call.code,
    reason: call.errorInfo?.reason || undefined,
    usage,
    usageEstimated: attempts.some((a) => a.usageEstimated),
    costUsd: answer?.costUsd ?? Number(call.errorInfo?.metadata['cost_usd'] ?? 0),
    costSavedUsd: cacheHit && answer?.usage ? (options.priceOf(answer.model, answer.usage) ?? 0) : 0,
    latencyMs: call.latencyMs,
    ttftMs: answer?.ttftMs,
    fallbackTriggered: answer?.fallbackTriggered ?? false,
    defaultMessage: answer?.defaultMessage ?? false,
    cacheHit,
    cacheStale: answer?.cache?.stale ?? false,
    promptSha256: options.content === 'none' || prompt === undefined ? undefined : createHash('sha256').update(prompt).digest('hex'),
    prompt: options.content === 'full' ? prompt : undefined,
    answer: options.content === 'full' ? answer?.content : undefined,
    attempts,
    decision: answer?.routeDecision ? decisionEntry(answer.routeDecision) : undefined,
  };
}

function answerOf(call: ObservedCall): AnswerView | undefined {
  if (call.path.endsWith('/StreamChat')) return streamAnswer(call.responses as StreamChatResponse[]);
  if (call.path.endsWith('/Batch')) return batchAnswer(call.responses as BatchResponse[]);
  const r = call.responses[0] as (ChatResponse & Partial<FallbackResponse>) | undefined;
  if (!r) return undefined;
  return {
    content: r.content,
    model: r.model,
    provider: r.provider,
    usage: r.usage,
    costUsd: r.costUsd,
    attempts: r.attempts,
    routeDecision: r.routeDecision,
    cache: r.cache,
    fallbackTriggered: r.fallbackTriggered ?? false,
    defaultMessage: r.isDefaultMessage ?? false,
    ttftMs: undefined,
  };
}

function streamAnswer(events: readonly StreamChatResponse[]): AnswerView | undefined {
  let content = '';
  for (const e of events) {
    if (e.event?.$case === 'delta') content += e.event.delta.content;
    if (e.event?.$case !== 'completed') continue;
    const c = e.event.completed;
    return {
      content,
      model: c.model,
      provider: c.provider,
      usage: c.usage,
      costUsd: c.costUsd,
      attempts: c.attempts,
      routeDecision: c.routeDecision,
      cache: undefined,
      fallbackTriggered: c.fallbackTriggered,
      defaultMessage: false,
      ttftMs: c.timeToFirstTokenMs,
    };
  }
  return undefined;
}

/** A Batch is one call: its items' attempts, the summary's usage and cost. */
function batchAnswer(events: readonly BatchResponse[]): AnswerView | undefined {
  const answers = events.flatMap((e) =>
    e.event?.$case === 'item' && e.event.item.outcome?.$case === 'response' ? [e.event.item.outcome.response] : [],
  );
  const summary = events.find((e) => e.event?.$case === 'summary');
  if (summary?.event?.$case !== 'summary') return undefined;
  const models = new Set(answers.map((a) => a.model));
  const only = models.size === 1 ? answers[0] : undefined;
  return {
    content: '',
    model: only?.model ?? '',
    provider: only?.provider ?? '',
    usage: summary.event.summary.usage,
    costUsd: summary.event.summary.costUsd,
    attempts: answers.flatMap((a) => a.attempts),
    routeDecision: undefined,
    cache: undefined,
    fallbackTriggered: false,
    defaultMessage: false,
    ttftMs: undefined,
  };
}

function isRaceStream(request: unknown): boolean {
  return (request as { strategy?: StreamStrategy } | null)?.strategy === StreamStrategy.STREAM_STRATEGY_RACE;
}

function attemptEntry(a: Attempt, raced: boolean): AttemptEntry {
  const outcome = attemptOutcomeToJSON(a.outcome).replace('ATTEMPT_OUTCOME_', '').toLowerCase();
  return {
    model: a.model,
    provider: a.provider,
    outcome,
    code: outcome === 'success' ? undefined : codeToJSON(a.code),
    reason: a.reason || undefined,
    latencyMs: a.latencyMs,
    usage: a.usage ? counts(a.usage) : ZERO,
    usageEstimated: a.usageEstimated,
    costUsd: a.costUsd,
    retry: a.retry,
    raced,
    lost: raced && outcome === 'cancelled',
  };
}

const ZERO: UsageCounts = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

function counts(u: Usage): UsageCounts {
  return { promptTokens: u.promptTokens, completionTokens: u.completionTokens, totalTokens: u.totalTokens };
}

/** A failed call's attempts, from ErrorInfo's `attempts` summary ("model:CODE:REASON,..."). */
function failedAttempts(metadata: Readonly<Record<string, string>> | undefined): AttemptEntry[] {
  const summary = metadata?.['attempts'];
  if (!summary) return [];
  return summary.split(',').map((entry) => {
    const [model = '', code = '', reason] = entry.split(':');
    const ok = code === 'OK';
    return {
      model,
      provider: '',
      outcome: ok
        ? 'success'
        : code === 'CANCELLED'
          ? 'cancelled'
          : code === 'TIMEOUT' || code === 'DEADLINE_EXCEEDED'
            ? 'timeout'
            : code === 'SKIPPED'
              ? 'skipped'
              : 'failure',
      code: ok ? undefined : code,
      reason,
      latencyMs: 0,
      usage: ZERO,
      usageEstimated: false,
      costUsd: 0,
      retry: 0,
      raced: false,
      lost: false,
    };
  });
}

function failedUsage(metadata: Readonly<Record<string, string>> | undefined): UsageCounts {
  const promptTokens = Number(metadata?.['prompt_tokens'] ?? 0) || 0;
  const completionTokens = Number(metadata?.['completion_tokens'] ?? 0) || 0;
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

function decisionEntry(d: RouteDecision): DecisionEntry {
  return {
    profile: routingProfileToJSON(d.profile).replace('ROUTING_PROFILE_', '').toLowerCase(),
    complexity: complexityToJSON(d.complexity).replace('COMPLEXITY_', '').toLowerCase(),
    promptTokens: d.promptTokens,
    chosenModel: d.chosenModel,
    candidates: d.ranking.map((s) => ({
      model: s.model,
      provider: s.provider,
      score: s.score,
      quality: s.quality,
      latency: s.latency,
      cost: s.cost,
      reliability: s.reliability,
      eligible: s.eligible,
      excludedReason: s.excludedReason,
    })),
  };
}

function promptOf(request: { messages?: Message[]; prompt?: string; inputs?: string[] }): string | undefined {
  const parts = [...(request.messages ?? []).map((m) => m.content), ...(request.prompt ? [request.prompt] : []), ...(request.inputs ?? [])];
  return parts.length === 0 ? undefined : parts.join('\n');
}
