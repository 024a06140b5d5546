import { isSimulatedProvider } from '../domain/simulated.js';
import type { AttemptRecord, FinishReason, TokenUsage } from '../domain/chat.js';
import type { ToolCall } from '../domain/tools.js';
import { round3 } from '../domain/latency.js';
import { UPSTREAM_REQUEST_ID } from '../domain/upstream-errors.js';
import type { CatalogModel } from '../catalog/catalog.js';
import { isEmbeddingModel } from '../catalog/embedding-models.js';
import { TEXT_ONLY } from '../catalog/models.js';
import type { Answer, BreakerState } from '../engine/index.js';
import type { RouteDecision } from '../engine/index.js';
import type { CompletionAnswer } from './engine-calls.js';

/** Domain values -> the OpenAI wire shapes, with our extras under `x_orchestrator` (SDKs ignore it). */

/** OpenAI has no "unknown": an upstream that gave no reason ended the answer. */
const FINISH: Readonly<Record<FinishReason, string>> = {
  stop: 'stop',
  length: 'length',
  content_filter: 'content_filter',
  tool_calls: 'tool_calls',
  unknown: 'stop',
};

/**
 * OpenAI ends a structured output refusal (`message.refusal`) with `stop`: the SDKs' parse()
 * returns the refusal then, and throws on `content_filter`. A refusal without words (Anthropic's)
 * stays `content_filter`.
 */
export function encodeFinish(reason: FinishReason, refused = false): string {
  return refused ? 'stop' : FINISH[reason];
}

/**
 * OpenAI's `usage` object as JSON text (only the counts a gateway knows; the SDKs read these).
 * OpenAI has no name for cache writes: they go where OpenRouter puts them, `cache_write_tokens`
 * beside `cached_tokens`.
 */
export function usageText(usage: TokenUsage): string {
  return (
    `{"prompt_tokens":${encodeNumber(usage.promptTokens)},"completion_tokens":${encodeNumber(usage.completionTokens)},` +
    `"total_tokens":${encodeNumber(usage.totalTokens)},"prompt_tokens_details":{"cached_tokens":${encodeNumber(usage.cachedTokens)},` +
    `"cache_write_tokens":${encodeNumber(usage.cacheWriteTokens ?? 0)}},` +
    `"completion_tokens_details":{"reasoning_tokens":${encodeNumber(usage.reasoningTokens ?? 0)}}}`
  );
}

/** The attempts as JSON text: the same bytes as JSON.stringify(attempts.map(encodeAttempt)), without the objects. */
export function attemptsText(attempts: readonly AttemptRecord[]): string {
  let text = '[';
  for (let i = 0; i < attempts.length; i++) {
    const a = attempts[i]!;
    const reason = a.error?.reason;
    const upstreamRequestId = a.error?.metadata[UPSTREAM_REQUEST_ID];
    text +=
      `${i === 0 ? '' : ','}{"model":${JSON.stringify(a.model)},"provider":${JSON.stringify(a.provider)},` +
      `"outcome":${JSON.stringify(a.outcome)},"reason":${reason === undefined ? 'null' : JSON.stringify(reason)},` +
      `"latency_ms":${encodeNumber(round3(a.latencyMs))},"cost_usd":${encodeNumber(a.costUsd)},"retry":${encodeNumber(a.retry)}` +
      `${upstreamRequestId === undefined ? '' : `,"upstream_request_id":${JSON.stringify(upstreamRequestId)}`}}`;
  }
  return `${text}]`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * The `chat.completion` object as JSON text, written straight from the answer: the outer shape is
 * fixed, so it is written as text and only its parts (strings for their escaping, usage, attempts,
 * the route decision, through the encoders every other body uses) go through JSON.stringify. The same bytes as
 * JSON.stringify of the object with these keys in this order.
 */
export function encodeCompletion(completion: CompletionAnswer, requestId: string): string {
  const { answer, decision } = completion;
  const id = JSON.stringify(requestId);
  // OpenAI sends null content beside tool calls or a refusal when there is no text.
  const refused = answer.refusal !== undefined;
  const content = (answer.toolCalls || refused) && answer.content === '' ? 'null' : JSON.stringify(answer.content);
  const refusal = refused ? JSON.stringify(answer.refusal) : 'null';
  const toolCalls = answer.toolCalls ? `,"tool_calls":${JSON.stringify(answer.toolCalls.map(encodeToolCall))}` : '';
  const cache = cacheText(answer.cache);
  return (
    `{"id":${id},"object":"chat.completion","created":${nowSeconds()},"model":${JSON.stringify(answer.model)},` +
    `"choices":[{"index":0,"message":{"role":"assistant","content":${content},"refusal":${refusal}${toolCalls}},` +
    `"logprobs":null,"finish_reason":"${encodeFinish(answer.finishReason, refused)}"}],` +
    `"usage":${usageText(answer.usage)},` +
    `"x_orchestrator":{"request_id":${id},"provider":${JSON.stringify(answer.provider)},` +
    // Made-up text from the embedded simulator, not a real model.
    `"simulated":${isSimulatedProvider(answer.provider)},"cost_usd":${encodeNumber(answer.costUsd)},` +
    `"latency_ms":${encodeNumber(round3(answer.latencyMs))},"attempts":${attemptsText(answer.attempts)},` +
    `"fallback_triggered":${completion.fallbackTriggered},"is_default_message":${completion.isDefaultMessage},` +
    `"cache":${cache},"route_decision":${decision ? JSON.stringify(encodeDecision(decision)) : 'null'}}}`
  );
}

/** `x_orchestrator.cache`: how the response cache answered (hit, stale, age), or null when it did not. */
export function cacheText(cache: Answer['cache']): string {
  return cache ? `{"hit":${cache.hit},"stale":${cache.stale},"age_seconds":${encodeNumber(cache.ageMs / 1000)}}` : 'null';
}

/** A number as JSON.stringify writes it: NaN and the infinities are null. */
export function encodeNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

export function encodeToolCall(call: ToolCall) {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } };
}

export function encodeDecision(decision: RouteDecision) {
  const chosen = decision.ranking.find((r) => r.excluded === undefined);
  return {
    profile: decision.profile,
    complexity: decision.complexity,
    prompt_tokens: decision.promptTokens,
    chosen_model: chosen?.model.id ?? null,
    ranking: decision.ranking.map((r) => ({
      model: r.model.id,
      provider: r.model.servedBy ?? r.model.provider,
      score: r.score,
      quality: round4(r.quality),
      latency: round4(r.latency),
      ttft: round4(r.ttft),
      cost: round4(r.cost),
      reliability: round4(r.reliability),
      context: round4(r.context),
      estimated_cost_usd: r.estimatedCostUsd,
      expected_latency_ms: round3(r.expectedLatencyMs),
      expected_ttft_ms: round3(r.expectedTtftMs),
      context_headroom: round4(r.contextHeadroom),
      eligible: r.excluded === undefined,
      excluded_reason: r.excluded ?? null,
    })),
  };
}

/** A catalog model in OpenAI's model shape; our catalog fields under `x_orchestrator`. */
export function encodeModel(m: CatalogModel, breaker: BreakerState) {
  const embedding = isEmbeddingModel(m);
  return {
    id: m.id,
    object: 'model',
    // The catalog has no creation dates; 0 says "unknown" in the field's own type.
    created: 0,
    owned_by: m.servedBy ?? m.provider,
    x_orchestrator: {
      // chat: /v1/chat/completions; embedding: /v1/embeddings, vectors of `dimensions` floats.
      kind: embedding ? 'embedding' : 'chat',
      dimensions: embedding ? m.dimensions : null,
      provider: m.servedBy ?? m.provider,
      aliases: [...m.aliases],
      family: m.family,
      tier: m.tier,
      context_window: m.contextWindow,
      max_output_tokens: m.maxOutputTokens,
      supports_streaming: m.supportsStreaming,
      input_price_per_million: m.inputPricePerMillion,
      output_price_per_million: m.outputPricePerMillion,
      cached_input_price_per_million: m.cachedInputPricePerMillion,
      // null: writes cost the documented multiple of the input price.
      cache_write_price_per_million: m.cacheWritePricePerMillion ?? null,
      fallbacks: [...m.fallbacks],
      // What a request may use on it; a fallback, race or route skips a model that lacks it.
      capabilities: encodeCapabilities(m),
      available: m.servedBy !== undefined,
      simulated: m.simulated,
      breaker_state: breaker,
      quality: m.quality,
    },
  };
}

/** A model without declared capabilities takes plain text only, as ListModels' unset `capabilities` says. */
function encodeCapabilities(m: CatalogModel) {
  const { tools, images, jsonSchema } = m.capabilities ?? TEXT_ONLY;
  return { tools, images, json_schema: jsonSchema };
}

function round4(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
