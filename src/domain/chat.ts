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

/**
 * Sampling controls beyond temperature; every field is optional and unset means the provider's
 * default. A provider that cannot honour a set field refuses the request (INVALID_ARGUMENT).
 */
export interface Sampling {
  readonly topP?: number | undefined;
  /** At most 4 non-empty sequences; the answer ends before the first one generated. */
  readonly stop?: readonly string[] | undefined;
  readonly seed?: number | undefined;
  readonly presencePenalty?: number | undefined;
  readonly frequencyPenalty?: number | undefined;
  /** The end user the request is made for (abuse monitoring upstream). */
  readonly user?: string | undefined;
}

/** Request tags: attribution only, carried to the log line and the trace, never to metric labels. */
export type RequestTags = Readonly<Record<string, string>>;

/** What the caller asked for, after validation and defaults. */
export interface ChatInput {
  readonly messages: readonly ChatMessage[];
  readonly temperature: number;
  /** Undefined means "the model's default limit", resolved per model by the engine. */
  readonly maxTokens: number | undefined;
  readonly sampling?: Sampling | undefined;
}

/** The sampling fields that are set, or undefined when none is (so requests without any stay as they were). */
export function definedSampling(sampling: Sampling): Sampling | undefined {
  const entries = Object.entries(sampling).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0));
  return entries.length === 0 ? undefined : (Object.fromEntries(entries) as Sampling);
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
