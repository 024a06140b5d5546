import type { ChatMessage, FinishReason, Sampling, TokenUsage } from '../domain/chat.js';
import type { ToolCall, ToolCallDelta, Tooling } from '../domain/tools.js';

/** One upstream call, already resolved to the provider's own model id. */
export interface ProviderRequest {
  /** The id the upstream knows the model by. */
  readonly upstreamModel: string;
  readonly messages: readonly ChatMessage[];
  readonly temperature: number;
  readonly maxTokens: number;
  /** Set fields only; a provider refuses (INVALID_ARGUMENT) a field it cannot honour rather than drop it. */
  readonly sampling?: Sampling | undefined;
  /** Tools, tool choice, answer format: a provider refuses (INVALID_ARGUMENT) what it cannot honour. */
  readonly tooling?: Tooling | undefined;
  /** Aborts the upstream HTTP request: deadline, caller cancel, race lost. */
  readonly signal: AbortSignal;
  /** Extra HTTP headers for this request only (W3C traceparent/tracestate). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * Told when a stream read brought work that is not relayed (a reasoning model's thinking), with
   * its length in characters: the model is generating, so the stall watchdog must not give it up
   * as silent, and the upstream bills it as output, so a stream that breaks later is charged it.
   */
  readonly onProgress?: ((thoughtChars: number) => void) | undefined;
  /**
   * Streams only: told when the upstream reports the prompt's usage as it begins to answer
   * (Anthropic's message_start: uncached, cache-read and cache-write counts; completion 0). It
   * bills that prompt however the stream ends, so a stream that breaks later is charged it.
   */
  readonly onPromptUsage?: ((usage: TokenUsage) => void) | undefined;
  /**
   * Streams only: told when the upstream reports the answer's usage before the stream's end
   * (Anthropic's message_delta, before message_stop: prompt and completion counts). A stream that
   * breaks after it is charged those counts, not an estimate of the text received.
   */
  readonly onAnswerUsage?: ((usage: TokenUsage) => void) | undefined;
}

export interface ProviderCompletion {
  readonly content: string;
  /**
   * The model's words declining to answer (OpenAI's structured output refusal), apart from the
   * content; the finish reason is then content_filter. Absent when the model did not refuse, or
   * refused without words (Anthropic's stop reason `refusal`).
   */
  readonly refusal?: string | undefined;
  readonly finishReason: FinishReason;
  readonly usage: TokenUsage;
  /** Set when the upstream reported no usage and `usage` is our estimate (about four characters a token). */
  readonly usageEstimated?: boolean | undefined;
  /** The tools the model asked to call, in its order; absent when it called none. */
  readonly toolCalls?: readonly ToolCall[] | undefined;
  /** Characters of thinking the answer carried (not relayed, billed as completion tokens); absent: none. */
  readonly thoughtChars?: number | undefined;
}

/**
 * What a provider stream yields: text and tool-call deltas, then exactly one `end` carrying the
 * finish reason, usage and the assembled tool calls. A stream that stops without `end` must throw instead (STREAM_TRUNCATED).
 */
export type ProviderStreamEvent =
  /** Text (content), a piece of a tool call (toolCall, with content '') or of a refusal (refusal, with content ''). */
  | {
      readonly type: 'delta';
      readonly content: string;
      readonly toolCall?: ToolCallDelta | undefined;
      readonly refusal?: string | undefined;
    }
  | {
      readonly type: 'end';
      readonly finishReason: FinishReason;
      readonly usage: TokenUsage;
      /** Set when the upstream reported no usage and `usage` is our estimate. */
      readonly usageEstimated?: boolean | undefined;
      /** The streamed tool-call pieces, assembled. */
      readonly toolCalls?: readonly ToolCall[] | undefined;
    };

/**
 * A provider only translates: our request to its wire format and its answers and failures
 * back to ours (OrchestratorError with the right kind and reason). No retries, no fallbacks.
 */
export interface Provider {
  /** Name shown in answers, stats and logs ("openai", "simulator", ...). */
  readonly name: string;
  complete(request: ProviderRequest): Promise<ProviderCompletion>;
  stream(request: ProviderRequest): AsyncIterable<ProviderStreamEvent>;
  /**
   * The same events as `stream`, grouped as the upstream delivered them: each array holds what
   * one read of the response completed (never empty). The engine relays from this when a
   * provider has it: one pass through its layers per read instead of one per event.
   */
  streamReads?(request: ProviderRequest): AsyncIterable<readonly ProviderStreamEvent[]>;
  /**
   * Whether a request's temperature reaches the model. Where it does not (a reasoning model, an
   * API version without sampling parameters), the model samples at its own and answers the same
   * request differently each time. Unset: it always does.
   */
  sendsTemperature?(upstreamModel: string, sampling: Sampling | undefined): boolean;
  close?(): Promise<void>;
}

/**
 * What is embedded: texts, or token ids (one array per input, ids of the model's tokenizer, as
 * OpenAI's API takes them and LangChain sends them). One request holds one kind.
 */
export type EmbeddingInputs = readonly string[] | readonly (readonly number[])[];

/** One embeddings call: inputs in order, already resolved to the provider's model id. */
export interface EmbeddingRequest {
  readonly upstreamModel: string;
  readonly inputs: EmbeddingInputs;
  /** Shorter vectors than the model's native length; undefined: native. */
  readonly dimensions?: number | undefined;
  /** The model's native vector length (the catalog's): with the inputs, it bounds the answer's size. */
  readonly nativeDimensions?: number | undefined;
  readonly signal: AbortSignal;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  readonly vectors: readonly (readonly number[])[];
  /** As the upstream reported it; undefined: it reported none. */
  readonly promptTokens: number | undefined;
}

/** A provider that can embed text (OpenAI-compatible ones); others have no `embed`. */
export interface EmbeddingProvider {
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
}

export function canEmbed(provider: Provider): provider is Provider & EmbeddingProvider {
  return typeof (provider as Partial<EmbeddingProvider>).embed === 'function';
}
