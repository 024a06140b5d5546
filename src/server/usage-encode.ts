import type { Selectable } from 'kysely';
import { codeFromJSON, Code } from '../gen/google/rpc/code.js';
import { round3 } from '../domain/latency.js';
import { timestamp } from './encode.js';
import {
  attemptOutcomeFromJSON,
  complexityFromJSON,
  routingProfileFromJSON,
  RoutingProfile,
  type RouteDecision,
  type Usage,
} from '../gen/orchestrator/v1/common.js';
import { UsageGroup, type LedgerCall, type UsageRow } from '../gen/orchestrator/v1/usage.js';
import type { ListedCall } from '../store/call-queries.js';
import type { UsageDimension, UsageTotals } from '../store/queries.js';
import type { CandidateEntry } from '../store/records.js';
import type { CallsTable, DecisionsTable } from '../store/schema.js';

/** Ledger rows as UsageService messages. */

export const DIMENSION_OF: Readonly<Partial<Record<UsageGroup, UsageDimension>>> = {
  [UsageGroup.USAGE_GROUP_KEY]: 'key',
  [UsageGroup.USAGE_GROUP_MODEL]: 'model',
  [UsageGroup.USAGE_GROUP_PROVIDER]: 'provider',
  [UsageGroup.USAGE_GROUP_METHOD]: 'method',
  [UsageGroup.USAGE_GROUP_DAY]: 'day',
  [UsageGroup.USAGE_GROUP_HOUR]: 'hour',
};

export function encodeUsageRow(t: UsageTotals): UsageRow {
  return {
    keyName: t.group.key ?? '',
    model: t.group.model ?? '',
    provider: t.group.provider ?? '',
    method: t.group.method ?? '',
    periodStart: t.group.periodStart === undefined ? undefined : timestamp(t.group.periodStart),
    requests: t.requests,
    successful: t.successful,
    errorsByCode: t.errorsByCode,
    promptTokens: t.promptTokens,
    completionTokens: t.completionTokens,
    totalTokens: t.totalTokens,
    cachedTokens: t.cachedTokens,
    cacheWriteTokens: t.cacheWriteTokens,
    reasoningTokens: t.reasoningTokens,
    costUsd: t.costUsd,
    latency: { p50Ms: t.latency.p50, p95Ms: t.latency.p95, p99Ms: t.latency.p99 },
    fallbackRate: t.fallbackRate,
    cacheHitRate: t.cacheHitRate,
    costSavedUsd: t.costSavedUsd,
  };
}

type UsageColumns = Pick<
  Selectable<CallsTable>,
  'prompt_tokens' | 'completion_tokens' | 'total_tokens' | 'cached_tokens' | 'cache_write_tokens' | 'reasoning_tokens'
>;

/** A call's or an attempt's usage, from its columns (a call's and an attempt's have the same names). */
const usage = (row: UsageColumns): Usage => ({
  promptTokens: row.prompt_tokens,
  completionTokens: row.completion_tokens,
  totalTokens: row.total_tokens,
  cachedTokens: row.cached_tokens,
  reasoningTokens: row.reasoning_tokens,
  cacheWriteTokens: row.cache_write_tokens,
});
function code(name: string | null): Code {
  if (!name) return Code.OK;
  try {
    return codeFromJSON(name);
  } catch {
    return Code.UNKNOWN;
  }
}

export function encodeCall({ call: c, attempts, decision, itemDecisions }: ListedCall): LedgerCall {
  return {
    requestId: c.request_id,
    time: timestamp(Number(c.ts)),
    method: c.method,
    protocol: c.protocol,
    keyName: c.key_name ?? '',
    requestedModel: c.requested_model ?? '',
    model: c.model ?? '',
    provider: c.provider ?? '',
    code: code(c.code),
    reason: c.reason ?? '',
    usage: usage(c),
    usageEstimated: Number(c.usage_estimated) === 1,
    costUsd: Number(c.cost_usd),
    costSavedUsd: Number(c.cost_saved_usd),
    latencyMs: round3(Number(c.latency_ms)),
    timeToFirstTokenMs: c.ttft_ms === null ? undefined : round3(Number(c.ttft_ms)),
    fallbackTriggered: Number(c.fallback_triggered) === 1,
    isDefaultMessage: Number(c.default_message) === 1,
    cacheHit: Number(c.cache_hit) === 1,
    cacheStale: Number(c.cache_stale) === 1,
    attempts: attempts.map((a) => ({
      model: a.model,
      provider: a.provider,
      outcome: attemptOutcomeFromJSON(`ATTEMPT_OUTCOME_${a.outcome.toUpperCase()}`),
      code: a.code ? code(a.code) : Code.OK,
      reason: a.reason ?? '',
      latencyMs: round3(Number(a.latency_ms)),
      usage: usage(a),
      usageEstimated: Number(a.usage_estimated) === 1,
      costUsd: Number(a.cost_usd),
      retry: a.retry,
      raced: Number(a.raced) === 1,
      lost: Number(a.lost) === 1,
    })),
    routeDecision: decision ? encodeDecision(decision) : undefined,
    promptSha256: c.prompt_sha256 ?? '',
    prompt: c.prompt ?? '',
    answer: c.answer ?? '',
    itemDecisions: itemDecisions.map((d) => ({
      index: d.seq,
      routeDecision: encodeDecision(d),
      model: d.model ?? '',
      successful: d.outcome === 'success',
      latencyMs: round3(Number(d.latency_ms)),
      fallbackTriggered: Number(d.fallback_triggered) === 1,
    })),
  };
}

/** The time-to-first-token and context dimensions and the estimates: absent from decisions recorded before the ledger kept them. */
type Later = 'ttft' | 'context' | 'estimatedCostUsd' | 'expectedLatencyMs' | 'expectedTtftMs' | 'contextHeadroom';
type StoredCandidate = Omit<CandidateEntry, Later> & Partial<Pick<CandidateEntry, Later>>;

function encodeDecision(d: Selectable<DecisionsTable>): RouteDecision {
  const candidates = JSON.parse(d.candidates) as StoredCandidate[];
  return {
    profile: routingProfileFromJSON(`ROUTING_PROFILE_${d.profile.toUpperCase()}`),
    complexity: complexityFromJSON(`COMPLEXITY_${d.complexity.toUpperCase()}`),
    promptTokens: d.prompt_tokens,
    chosenModel: d.chosen_model,
    ranking: candidates.map((s) => ({
      model: s.model,
      provider: s.provider,
      score: s.score,
      quality: s.quality,
      latency: s.latency,
      cost: s.cost,
      reliability: s.reliability,
      estimatedCostUsd: s.estimatedCostUsd ?? 0,
      expectedLatencyMs: s.expectedLatencyMs ?? 0,
      eligible: s.eligible,
      excludedReason: s.excludedReason,
      ttft: s.ttft ?? 0,
      context: s.context ?? 0,
      expectedTtftMs: s.expectedTtftMs ?? 0,
      contextHeadroom: s.contextHeadroom ?? 0,
    })),
  };
}

export function routingProfileOf(name: string): RoutingProfile {
  try {
    return routingProfileFromJSON(`ROUTING_PROFILE_${name.toUpperCase()}`);
  } catch {
    return RoutingProfile.ROUTING_PROFILE_UNSPECIFIED;
  }
}
