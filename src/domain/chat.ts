import { characterCount, longerThan } from './characters.js';
import { CHECKED_PAST_LIMIT } from './errors.js';
import { sumUsd } from './money.js';
import type { ReasoningEffort } from './reasoning-models.js';
import type { PromptCache } from './prompt-cache.js';
import { type ContentPart, type ToolCall, toolCallChars, type Tooling } from './tools.js';
import { extend } from './extend.js';

/** Provider-neutral shapes shared by providers, engine and server. */

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  readonly role: ChatRole;
  /** The text; with `parts`, the text parts joined (what estimates and routing read). */
  readonly content: string;
  /** Set when the content came as parts (text and images): providers send these instead of `content`. */
  readonly parts?: readonly ContentPart[] | undefined;
  /** Assistant messages: the tool calls the model made in that turn. */
  readonly toolCalls?: readonly ToolCall[] | undefined;
  /** Tool messages: the call this one answers. */
  readonly toolCallId?: string | undefined;
  /** A prompt cache breakpoint at the end of the message (on its last block). */
  readonly cache?: PromptCache | undefined;
  /**
   * Set by a door that reads text-only parts as their joined text (the HTTP API): `parts` are
   * then kept only for the prompt cache markers on them, and what places no marker (the
   * response cache's key, OpenAI-compatible providers) reads `content`, as for the same
   * message unmarked.
   */
  readonly joinedParts?: true | undefined;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'unknown';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
  /** Of `completionTokens`, those a reasoning model spent thinking (OpenAI reports them); unset: none, or not reported. */
  reasoningTokens?: number;
  /** Prompt tokens written to the provider's prompt cache (Anthropic and OpenRouter report them); unset: none. */
  cacheWriteTokens?: number;
  /** Of `cacheWriteTokens`, those the provider says it wrote for an hour (Anthropic's `ttl: 1h`); unset: none, or no split reported. */
  cacheWrite1hTokens?: number;
}

export const ZERO_USAGE: Readonly<TokenUsage> = Object.freeze({
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  cachedTokens: 0,
});

/**
 * A running total for addUsage to add to. A literal, not a copy of ZERO_USAGE: the fields addUsage
 * may add then follow shapes every total shares (see src/domain/extend.ts).
 */
export function usageTotal(): TokenUsage {
  return { promptTokens: 0, completionTokens: 0, totalTokens: 0, cachedTokens: 0 };
}

/** Adds `u` to the running total `into` (a Batch's items, a call's attempts). */
export function addUsage(into: TokenUsage, u: TokenUsage): void {
  into.promptTokens += u.promptTokens;
  into.completionTokens += u.completionTokens;
  into.totalTokens += u.totalTokens;
  into.cachedTokens += u.cachedTokens;
  if (u.reasoningTokens) into.reasoningTokens = (into.reasoningTokens ?? 0) + u.reasoningTokens;
  if (u.cacheWriteTokens) into.cacheWriteTokens = (into.cacheWriteTokens ?? 0) + u.cacheWriteTokens;
  if (u.cacheWrite1hTokens) into.cacheWrite1hTokens = (into.cacheWrite1hTokens ?? 0) + u.cacheWrite1hTokens;
}

/** What gpt-4o bills a 1024x1024 image at high detail, and about what a small image costs at Anthropic: an estimate for any image. */
export const IMAGE_TOKEN_ESTIMATE = 765;

/** The characters a token is taken for wherever no upstream count exists. */
export const CHARS_PER_TOKEN = 4;

/**
 * About four characters a token, plus 3 per message: the estimate wherever no upstream count
 * exists. Tool calls count by their name and arguments, each image as IMAGE_TOKEN_ESTIMATE.
 */
export function estimatePromptTokens(messages: readonly (Pick<ChatMessage, 'content'> & Partial<ChatMessage>)[]): number {
  return messages.reduce((n, m) => {
    let chars = m.content.length;
    if (m.toolCalls) for (const call of m.toolCalls) chars += toolCallChars(call);
    let images = 0;
    for (const part of m.parts ?? []) if (part.type === 'image') images++;
    return n + Math.ceil(chars / CHARS_PER_TOKEN) + 3 + images * IMAGE_TOKEN_ESTIMATE;
  }, 0);
}

/**
 * What the messages send beside their text, as estimatePromptTokens counts it: the tool calls of
 * assistant turns (name and arguments) and the images. A count of the text alone (the router's
 * tokenizer) leaves these out, though they take room in the window and are billed as prompt.
 */
export function estimateBeyondTextTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => {
    let chars = 0;
    if (m.toolCalls) for (const call of m.toolCalls) chars += toolCallChars(call);
    let images = 0;
    for (const part of m.parts ?? []) if (part.type === 'image') images++;
    return n + Math.ceil(chars / CHARS_PER_TOKEN) + images * IMAGE_TOKEN_ESTIMATE;
  }, 0);
}

/** The tools' definitions (names, descriptions, schemas) and the answer's schema, as prompt tokens: their JSON at four characters a token. */
export function estimateToolingTokens(tooling: Tooling | undefined): number {
  if (!tooling) return 0;
  const format = tooling.responseFormat?.type === 'json_schema' ? tooling.responseFormat : undefined;
  if (!tooling.tools && !format) return 0;
  return Math.ceil(JSON.stringify([tooling.tools ?? [], format ?? null]).length / CHARS_PER_TOKEN);
}

/** What a request sends as its prompt: the messages, the tools' definitions and the answer's schema. */
export interface PromptParts {
  readonly messages: readonly ChatMessage[];
  readonly tooling?: Tooling | undefined;
}

/** A request's whole prompt as tokens: admission holds limits for it and an estimated usage charges it. */
export function estimateRequestTokens(prompt: PromptParts): number {
  return estimatePromptTokens(prompt.messages) + estimateToolingTokens(prompt.tooling);
}

/** Usage estimated from the prompt and the text generated, for an upstream that reported none. */
export function estimateUsage(prompt: PromptParts, generated: string | number): TokenUsage {
  const promptTokens = estimateRequestTokens(prompt);
  const completionTokens = Math.ceil((typeof generated === 'number' ? generated : generated.length) / CHARS_PER_TOKEN);
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
  /** How much a reasoning model thinks; only OpenAI's reasoning models take it. */
  readonly reasoningEffort?: ReasoningEffort | undefined;
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
  /** Tools, tool choice and the answer's format; undefined when the request sets none. */
  readonly tooling?: Tooling | undefined;
}

/** The sampling fields that are set, or undefined when none is (so requests without any stay as they were). */
export function definedSampling(sampling: Sampling): Sampling | undefined {
  // Most requests set none: they cost one pass over the keys and no intermediate arrays.
  let defined: Record<string, unknown> | undefined;
  for (const key in sampling) {
    const value = (sampling as Record<string, unknown>)[key];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    defined ??= {};
    defined[key] = value;
  }
  return defined as Sampling | undefined;
}

export type AttemptOutcome = 'success' | 'failure' | 'timeout' | 'cancelled' | 'skipped';

/** What an upstream request asks for, as the OpenTelemetry GenAI conventions name it (gen_ai.operation.name). */
export type UpstreamOperation = 'chat' | 'embeddings';

/** One upstream call made while answering a request. */
export interface AttemptRecord {
  readonly model: string;
  readonly provider: string;
  /** Set for an embeddings request; absent for a chat completion. */
  readonly operation?: UpstreamOperation;
  readonly outcome: AttemptOutcome;
  /** Set for every outcome but success. */
  readonly error?: import('./errors.js').OrchestratorError;
  readonly latencyMs: number;
  readonly usage: TokenUsage;
  /** Why the model stopped, as the upstream said (successes only; a failed or cut call has none). */
  readonly finishReason?: FinishReason;
  /** True when `usage` is our estimate for a call that did not finish (the upstream never reported it). */
  readonly usageEstimated?: boolean;
  readonly costUsd: number;
  /** 0 for the first call to this model within the request, then 1, 2... for retries. */
  readonly retry: number;
  /** Time waited before this call (backoff or Retry-After). */
  readonly backoffMs: number;
}

/** What a call's upstream calls cost together: every attempt is paid for, failed ones too. */
export function totalCost(attempts: readonly AttemptRecord[]): number {
  return sumUsd(attempts.map((a) => a.costUsd));
}

/** The bounds the providers document (OpenAI Chat Completions; Anthropic takes a subset). */
export const SAMPLING_LIMITS = { maxStop: 4, maxStopChars: 256, maxUserChars: 256 } as const;

/** Request tags stay small: they ride on the call's log line and trace. */
export const TAG_LIMITS = { maxKeys: 16, maxKeyChars: 64, maxValueChars: 512 } as const;

type Violation = import('./errors.js').FieldViolation;

/**
 * Checks sampling fields against the documented ranges (top_p 0..1, penalties -2..2, stop at
 * most 4 non-empty strings, seed a safe integer, user bounded). `at` names a field as the
 * caller's door spells it (`sampling.top_p` on gRPC, `top_p` on HTTP).
 */
export function checkSampling(raw: Sampling, at: (name: string) => string): { sampling: Sampling | undefined; violations: Violation[] } {
  const violations: Violation[] = [];
  const range = (name: string, value: number | undefined, min: number, max: number): void => {
    if (value !== undefined && !(value >= min && value <= max))
      violations.push({ field: at(name), description: `must be between ${min} and ${max} (got ${value})` });
  };
  range('top_p', raw.topP, 0, 1);
  range('presence_penalty', raw.presencePenalty, -2, 2);
  range('frequency_penalty', raw.frequencyPenalty, -2, 2);
  if (raw.seed !== undefined && !Number.isSafeInteger(raw.seed)) {
    violations.push({ field: at('seed'), description: `must be an integer of at most 53 bits (got ${raw.seed})` });
  }
  const stop = raw.stop ?? [];
  const overCount = stop.length > SAMPLING_LIMITS.maxStop;
  if (overCount) violations.push({ field: at('stop'), description: `at most ${SAMPLING_LIMITS.maxStop} sequences (got ${stop.length})` });
  // A list over the count has its first entries checked, not all: a million empty ones took seconds of the event loop to refuse one by one.
  (overCount ? stop.slice(0, CHECKED_PAST_LIMIT) : stop).forEach((s, i) => {
    if (s.length === 0) violations.push({ field: `${at('stop')}[${i}]`, description: 'must not be empty' });
    else if (longerThan(s, SAMPLING_LIMITS.maxStopChars)) {
      violations.push({
        field: `${at('stop')}[${i}]`,
        description: `must be at most ${SAMPLING_LIMITS.maxStopChars} characters (got ${characterCount(s)})`,
      });
    }
  });
  if (raw.user !== undefined && longerThan(raw.user, SAMPLING_LIMITS.maxUserChars)) {
    violations.push({
      field: at('user'),
      description: `must be at most ${SAMPLING_LIMITS.maxUserChars} characters (got ${characterCount(raw.user)})`,
    });
  }
  const sampling = definedSampling(
    extend(raw, { stop: stop.length > 0 && !overCount ? [...stop] : undefined, user: raw.user || undefined }),
  );
  return { sampling, violations };
}

/** Fallback's default_message, the answer when every model failed: a text the caller sends, held to MAX_CONTENT_CHARS as the others are. */
export function checkDefaultMessage(text: string | undefined, field: string, maxContentChars: number): Violation[] {
  if (text === undefined || !longerThan(text, maxContentChars)) return [];
  return [{ field, description: `must be at most ${maxContentChars} characters (got ${characterCount(text)})` }];
}

/** Request tags bounded by TAG_LIMITS; undefined when there are none. */
export function checkTags(
  tags: Readonly<Record<string, string>> | undefined,
  field: string,
): { tags: RequestTags | undefined; violations: Violation[] } {
  const violations: Violation[] = [];
  // Named once (any walk over a map of 200,000 keys costs a tenth of a second or more): a map
  // over the count has its first keys checked, and is not copied.
  const keys = tags === undefined ? [] : Object.keys(tags);
  if (tags === undefined || keys.length === 0) return { tags: undefined, violations };
  const overCount = keys.length > TAG_LIMITS.maxKeys;
  if (overCount) violations.push({ field, description: `at most ${TAG_LIMITS.maxKeys} keys (got ${keys.length})` });
  const entries = (overCount ? keys.slice(0, CHECKED_PAST_LIMIT) : keys).map((key): [string, string] => [key, tags[key] as string]);
  for (const [key, value] of entries) {
    if (key.length === 0 || longerThan(key, TAG_LIMITS.maxKeyChars)) {
      violations.push({ field, description: `keys must be 1 to ${TAG_LIMITS.maxKeyChars} characters (got one of ${characterCount(key)})` });
    } else if (typeof value !== 'string' || longerThan(value, TAG_LIMITS.maxValueChars)) {
      violations.push({ field: `${field}[${key}]`, description: `must be a string of at most ${TAG_LIMITS.maxValueChars} characters` });
    }
  }
  return { tags: overCount ? undefined : Object.fromEntries(entries), violations };
}
