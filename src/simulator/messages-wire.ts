/** Anthropic Messages API wire shapes, JSON and SSE, as @anthropic-ai/sdk decodes them. */

import type { SimFinishReason } from './chat-wire.js';
import { NO_CACHE_USE, type PromptCacheUsage } from './prompt-cache.js';
import type { SimToolCall } from './tool-plan.js';

export type AnthropicStopReason = 'end_turn' | 'max_tokens' | 'tool_use' | 'stop_sequence' | 'refusal';

/** How the API says an answer ended: `stop_sequence` (and which one) when it ended at one. */
export interface AnthropicStop {
  readonly reason: AnthropicStopReason;
  readonly sequence: string | null;
}

export function stopOf(plan: {
  readonly finishReason: SimFinishReason;
  readonly stopSequence?: string | undefined;
  readonly refusal?: true | undefined;
}): AnthropicStop {
  if (plan.stopSequence !== undefined) return { reason: 'stop_sequence', sequence: plan.stopSequence };
  // The API's refusals stop so, their words (if any) as the answer's text.
  if (plan.refusal && plan.finishReason === 'stop') return { reason: 'refusal', sequence: null };
  const reason = plan.finishReason === 'tool_calls' ? 'tool_use' : plan.finishReason === 'length' ? 'max_tokens' : 'end_turn';
  return { reason, sequence: null };
}

/** The API's tool use ids are `toolu_…`; the plan's are OpenAI's `call_…`. */
function toolUseId(call: SimToolCall): string {
  return call.id.replace(/^call_/, 'toolu_');
}

/**
 * A planned call as a tool_use content block (the arguments parsed: the API sends an object;
 * arguments cut off by max_tokens are not JSON, and leave it empty).
 */
function toolUseBlock(call: SimToolCall): unknown {
  let input: unknown = {};
  try {
    input = JSON.parse(call.arguments);
  } catch {}
  return { type: 'tool_use', id: toolUseId(call), name: call.name, input };
}

export interface AnthropicErrorBody {
  readonly type: 'error';
  readonly error: { readonly type: string; readonly message: string };
}

/** The `{ type: "error", error: { type, message } }` shape the API answers failures with. */
export function anthropicErrorBody(type: string, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type, message } };
}

/** The error type the API uses for an HTTP status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

export interface AnthropicUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_input_tokens: number;
  readonly cache_creation_input_tokens: number;
  readonly cache_creation?: { readonly ephemeral_5m_input_tokens: number; readonly ephemeral_1h_input_tokens: number };
}

/** The prompt's tokens as the API splits them: `input_tokens` are those neither read from the cache nor written to it. */
export function anthropicUsage(promptTokens: number, outputTokens: number, cache: PromptCacheUsage = NO_CACHE_USE): AnthropicUsage {
  const written = cache.written5m + cache.written1h;
  return {
    input_tokens: promptTokens - cache.read - written,
    output_tokens: outputTokens,
    cache_read_input_tokens: cache.read,
    cache_creation_input_tokens: written,
    ...(written > 0 ? { cache_creation: { ephemeral_5m_input_tokens: cache.written5m, ephemeral_1h_input_tokens: cache.written1h } } : {}),
  };
}

export interface MessageIdentity {
  /** msg_sim_<n> */
  readonly id: string;
  /** The model as the client asked for it. */
  readonly model: string;
}

export interface MessageContent {
  readonly text: string;
  /** Set when the model calls tools: the content is then their tool_use blocks. */
  readonly toolCalls?: readonly SimToolCall[] | undefined;
  /** null only for the 'truncate' fault: what a cut-off upstream looks like. */
  readonly stop: AnthropicStop | null;
  readonly usage: AnthropicUsage;
}

export function messageBody(identity: MessageIdentity, answer: MessageContent): unknown {
  return {
    id: identity.id,
    type: 'message',
    role: 'assistant',
    model: identity.model,
    content: answer.toolCalls ? answer.toolCalls.map(toolUseBlock) : [{ type: 'text', text: answer.text }],
    stop_reason: answer.stop?.reason ?? null,
    stop_sequence: answer.stop?.sequence ?? null,
    usage: answer.usage,
  };
}

function event(name: string, data: string): string {
  return `event: ${name}\ndata: ${data}\n\n`;
}

/**
 * Encodes the SSE events of one streamed message, each as `event: <name>\ndata: <json>\n\n`.
 * Token deltas, the hot path, are two precomputed halves around one JSON-escaped string.
 */
export class MessageEventEncoder {
  readonly #identity: MessageIdentity;
  readonly #tokenPrefix = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":';
  readonly #tokenSuffix = '}}\n\n';

  constructor(identity: MessageIdentity) {
    this.#identity = identity;
  }

  /**
   * message_start (input usage, output_tokens 1 as the API reports it), the text block's start
   * (none when the answer is tool calls: each brings its own block), a ping.
   */
  head(promptTokens: number, textBlock = true, cache: PromptCacheUsage = NO_CACHE_USE): string {
    const message = {
      id: this.#identity.id,
      type: 'message',
      role: 'assistant',
      model: this.#identity.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: anthropicUsage(promptTokens, 1, cache),
    };
    return (
      event('message_start', JSON.stringify({ type: 'message_start', message })) +
      (textBlock
        ? event('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
        : '') +
      event('ping', '{"type": "ping"}')
    );
  }

  /** The events of tool call `index`: its block's start (id, name), one input_json_delta per fragment, its stop. */
  toolUse(index: number, call: SimToolCall): string[] {
    const block = { type: 'tool_use', id: toolUseId(call), name: call.name, input: {} };
    return [
      event('content_block_start', JSON.stringify({ type: 'content_block_start', index, content_block: block })),
      ...call.fragments.map((partial_json) =>
        event(
          'content_block_delta',
          JSON.stringify({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } }),
        ),
      ),
      event('content_block_stop', JSON.stringify({ type: 'content_block_stop', index })),
    ];
  }

  token(text: string): string {
    return this.#tokenPrefix + JSON.stringify(text) + this.#tokenSuffix;
  }

  /** content_block_stop (of the text block, when there is one), message_delta (stop reason, cumulative output tokens), message_stop. */
  finish(stop: AnthropicStop, outputTokens: number, textBlock = true): string {
    const delta = {
      type: 'message_delta',
      delta: { stop_reason: stop.reason, stop_sequence: stop.sequence },
      usage: { output_tokens: outputTokens },
    };
    return (
      (textBlock ? event('content_block_stop', '{"type":"content_block_stop","index":0}') : '') +
      event('message_delta', JSON.stringify(delta)) +
      event('message_stop', '{"type":"message_stop"}')
    );
  }

  /**
   * A delta whose data is not JSON. It must carry an event name: the SDK skips unnamed
   * events, so a bare `data:` line would read as a silent truncation instead.
   */
  malformed(): string {
    return 'event: content_block_delta\ndata: {not json\n\n';
  }
}
