import type { AttemptOutcome as DomainOutcome, AttemptRecord, FinishReason as DomainFinish, TokenUsage } from '../domain/chat.js';
import type { Answer, BreakerState, Complexity as DomainComplexity, RouteDecision, RoutingProfileName } from '../engine/index.js';
import {
  type Attempt,
  AttemptOutcome,
  CircuitState,
  Complexity,
  FinishReason,
  RoutingProfile,
  type RouteDecision as RouteDecisionMessage,
  type ToolCall as ToolCallMessage,
  type Usage,
} from '../gen/orchestrator/v1/common.js';
import { Code } from '../gen/google/rpc/code.js';
import type { Timestamp } from '../gen/google/protobuf/timestamp.js';
import type { ToolCall } from '../domain/tools.js';
import { codeForKind } from './errors.js';
import { isSimulatedProvider } from '../domain/simulated.js';
import { round3 } from '../domain/latency.js';
import { UPSTREAM_REQUEST_ID } from '../domain/upstream-errors.js';

/** Domain values -> generated message types. Pure functions, no logic beyond the mapping. */

const FINISH: Readonly<Record<DomainFinish, FinishReason>> = {
  stop: FinishReason.FINISH_REASON_STOP,
  length: FinishReason.FINISH_REASON_LENGTH,
  content_filter: FinishReason.FINISH_REASON_CONTENT_FILTER,
  tool_calls: FinishReason.FINISH_REASON_TOOL_CALLS,
  unknown: FinishReason.FINISH_REASON_UNSPECIFIED,
};

const OUTCOME: Readonly<Record<DomainOutcome, AttemptOutcome>> = {
  success: AttemptOutcome.ATTEMPT_OUTCOME_SUCCESS,
  failure: AttemptOutcome.ATTEMPT_OUTCOME_FAILURE,
  timeout: AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT,
  cancelled: AttemptOutcome.ATTEMPT_OUTCOME_CANCELLED,
  skipped: AttemptOutcome.ATTEMPT_OUTCOME_SKIPPED,
};

export function encodeFinish(reason: DomainFinish): FinishReason {
  return FINISH[reason];
}

export function encodeUsage(usage: TokenUsage): Usage {
  return {
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.totalTokens,
    cachedTokens: usage.cachedTokens,
    reasoningTokens: usage.reasoningTokens ?? 0,
    cacheWriteTokens: usage.cacheWriteTokens ?? 0,
  };
}

export function encodeAttempt(record: AttemptRecord): Attempt {
  return {
    model: record.model,
    provider: record.provider,
    outcome: OUTCOME[record.outcome],
    code: record.error ? (codeForKind(record.error.kind) as number as Code) : Code.OK,
    reason: record.error?.reason ?? '',
    message: record.error?.message ?? '',
    latencyMs: round3(record.latencyMs),
    usage: encodeUsage(record.usage),
    costUsd: record.costUsd,
    retry: record.retry,
    backoffMs: round3(record.backoffMs),
    usageEstimated: record.usageEstimated === true,
    upstreamRequestId: record.error?.metadata[UPSTREAM_REQUEST_ID] ?? '',
  };
}

const CIRCUIT: Readonly<Record<BreakerState, CircuitState>> = {
  closed: CircuitState.CIRCUIT_STATE_CLOSED,
  open: CircuitState.CIRCUIT_STATE_OPEN,
  half_open: CircuitState.CIRCUIT_STATE_HALF_OPEN,
};

export function encodeCircuit(state: BreakerState): CircuitState {
  return CIRCUIT[state];
}

/** The fields ChatResponse, RaceResponse and FallbackResponse share. */
export function encodeAnswer(answer: Answer, requestId: string) {
  return {
    content: answer.content,
    model: answer.model,
    provider: answer.provider,
    usage: encodeUsage(answer.usage),
    costUsd: answer.costUsd,
    latencyMs: round3(answer.latencyMs),
    requestId,
    attempts: answer.attempts.map(encodeAttempt),
    finishReason: encodeFinish(answer.finishReason),
    simulated: isSimulatedProvider(answer.provider),
    toolCalls: encodeToolCalls(answer.toolCalls),
    refusal: answer.refusal ?? '',
  };
}

export function encodeToolCalls(calls: readonly ToolCall[] | undefined): ToolCallMessage[] {
  return (calls ?? []).map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
}

/** The cache field of an answer that came from (or refreshed) the response cache. */
export function encodeCacheInfo(answer: Pick<Answer, 'cache'>) {
  return answer.cache ? { cache: { hit: answer.cache.hit, stale: answer.cache.stale, ageSeconds: answer.cache.ageMs / 1000 } } : {};
}

const PROFILE: Readonly<Record<RoutingProfileName, RoutingProfile>> = {
  quality: RoutingProfile.ROUTING_PROFILE_QUALITY,
  balanced: RoutingProfile.ROUTING_PROFILE_BALANCED,
  speed: RoutingProfile.ROUTING_PROFILE_SPEED,
  budget: RoutingProfile.ROUTING_PROFILE_BUDGET,
  long_context: RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT,
};

const COMPLEXITY: Readonly<Record<DomainComplexity, Complexity>> = {
  simple: Complexity.COMPLEXITY_SIMPLE,
  moderate: Complexity.COMPLEXITY_MODERATE,
  complex: Complexity.COMPLEXITY_COMPLEX,
};

export function encodeProfile(profile: RoutingProfileName): RoutingProfile {
  return PROFILE[profile];
}

export function encodeDecision(decision: RouteDecision): RouteDecisionMessage {
  const chosen = decision.ranking.find((r) => r.excluded === undefined);
  return {
    profile: PROFILE[decision.profile],
    complexity: COMPLEXITY[decision.complexity],
    promptTokens: decision.promptTokens,
    chosenModel: chosen?.model.id ?? '',
    ranking: decision.ranking.map((r) => ({
      model: r.model.id,
      provider: r.model.servedBy ?? r.model.provider,
      score: r.score,
      quality: round4(r.quality),
      latency: round4(r.latency),
      cost: round4(r.cost),
      reliability: round4(r.reliability),
      estimatedCostUsd: r.estimatedCostUsd,
      expectedLatencyMs: round3(r.expectedLatencyMs),
      eligible: r.excluded === undefined,
      excludedReason: r.excluded ?? '',
      ttft: round4(r.ttft),
      context: round4(r.context),
      expectedTtftMs: round3(r.expectedTtftMs),
      contextHeadroom: round4(r.contextHeadroom),
    })),
  };
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

/** Epoch milliseconds as a google.protobuf.Timestamp. */
export function timestamp(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
