/** Provider-neutral shapes shared by providers, engine and server. */

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'unknown';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
}

export const ZERO_USAGE: Readonly<TokenUsage> = Object.freeze({
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  cachedTokens: 0,
});

/** About four characters a token, plus 3 per message: the estimate wherever no upstream count exists. */
export function estimatePromptTokens(messages: readonly { readonly content: string }[]): number {
  return messages.reduce((n, m) => n + Math.ceil(m.content.length / 4) + 3, 0);
}

/** Usage estimated from the prompt and the text generated, for an upstream that reported none. */
export function estimateUsage(messages: readonly { readonly content: string }[], generated: string | number): TokenUsage {
  const promptTokens = estimatePromptTokens(messages);
  const completionTokens = Math.ceil((typeof generated === 'number' ? generated : generated.length) / 4);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, cachedTokens: 0 };
}

/** What the caller asked for, after validation and defaults. */
export interface ChatInput {
  readonly messages: readonly ChatMessage[];
  readonly temperature: number;
  /** Undefined means "the model's default limit", resolved per model by the engine. */
  readonly maxTokens: number | undefined;
}

export type AttemptOutcome = 'success' | 'failure' | 'timeout' | 'cancelled' | 'skipped';

/** One upstream call made while answering a request. */
export interface AttemptRecord {
  readonly model: string;
  readonly provider: string;
  readonly outcome: AttemptOutcome;
  /** Set for every outcome but success. */
  readonly error?: import('./errors.js').OrchestratorError;
  readonly latencyMs: number;
  readonly usage: TokenUsage;
  /** True when `usage` is our estimate for a call that did not finish (the upstream never reported it). */
  readonly usageEstimated?: boolean;
  readonly costUsd: number;
  /** 0 for the first call to this model within the request, then 1, 2... for retries. */
  readonly retry: number;
  /** Time waited before this call (backoff or Retry-After). */
  readonly backoffMs: number;
}
