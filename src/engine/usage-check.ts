import type { Logger } from 'pino';
import type { ChatMessage, TokenUsage } from '../domain/chat.js';
import type { Tooling } from '../domain/tools.js';
import { estimateUsage } from '../domain/chat.js';
import { extend } from '../domain/extend.js';

/**
 * Usage an upstream reports is input like any other: it sets the caller's cost, the key's
 * token limits and budgets, and GetStats' totals. It is taken only when every count is a
 * non-negative integer within a sane bound of the request: a token is at least one byte of
 * the text's UTF-8, so the prompt cannot count more tokens than the prompt has bytes (plus the
 * per-message framing, the tool definitions and calls, the system prompt a provider adds when
 * tools are offered, and a generous allowance per image, whose tokens depend on its size, not
 * its characters), nor be none; the completion cannot pass max_tokens
 * (plus a little slack for providers that count their end marker), nor be none for an answer
 * with text or tool calls (`generatedChars` counts both). Otherwise the attempt's usage is our estimate.
 */
export interface CheckedUsage {
  readonly usage: TokenUsage;
  /** Set when the report was refused and `usage` is our estimate; says why. */
  readonly refused?: string;
}

const FRAMING_PER_MESSAGE = 16;
const SLACK = 64;
/**
 * More than any provider charges for one image. gpt-4o-mini bills the most: 2,833 tokens plus
 * 5,667 per 512-pixel tile of its high-detail rendering, at most 8 tiles (768 by 2048), 48,169;
 * an ordinary photo is 4 tiles, 25,501. Anthropic and the other OpenAI models stay under 6,000.
 */
const TOKENS_PER_IMAGE_BOUND = 50_000;
/**
 * A request that offers tools carries a system prompt the provider adds, counted as input:
 * Anthropic's pricing page lists up to 530 tokens per model and tool_choice.
 */
const TOOL_USE_PROMPT_BOUND = 1_000;

/** The request a report is checked against. */
export type UsageRequest = {
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  readonly tooling?: Tooling | undefined;
};

/** Where a refused report came from, and the logger it is logged to. */
export type UsageSource = { readonly log?: Logger | undefined; readonly model: string; readonly provider: string };

export function checkUsage(reported: TokenUsage, request: UsageRequest, generatedChars: number, source?: UsageSource): CheckedUsage {
  const problem = usageProblem(reported, request, generatedChars);
  if (!problem) return { usage: extend(reported, { totalTokens: reported.promptTokens + reported.completionTokens }) };
  source?.log?.warn(
    { model: source.model, provider: source.provider, reported, problem },
    'upstream usage report refused; charging an estimate instead',
  );
  return { usage: estimateUsage(request, generatedChars), refused: problem };
}

function usageProblem(u: TokenUsage, request: UsageRequest, generatedChars: number): string | undefined {
  const counts =
    notCount('prompt_tokens', u.promptTokens) ??
    notCount('completion_tokens', u.completionTokens) ??
    notCount('cached_tokens', u.cachedTokens) ??
    notCount('reasoning_tokens', u.reasoningTokens ?? 0) ??
    notCount('cache_write_tokens', u.cacheWriteTokens ?? 0) ??
    notCount('cache_write_1h_tokens', u.cacheWrite1hTokens ?? 0);
  if (counts) return counts;
  // Every message is at least its framing tokens: a report of none for a prompt would charge it nothing.
  if (u.promptTokens === 0 && request.messages.length > 0)
    return `prompt_tokens 0 for a prompt of ${request.messages.length} message${request.messages.length === 1 ? '' : 's'}`;
  let images = 0;
  for (const m of request.messages) for (const part of m.parts ?? []) if (part.type === 'image') images++;
  const toolPrompt = (request.tooling?.tools?.length ?? 0) > 0 ? TOOL_USE_PROMPT_BOUND : 0;
  const allowance = FRAMING_PER_MESSAGE * request.messages.length + images * TOKENS_PER_IMAGE_BOUND + toolPrompt + SLACK;
  const promptChars = promptSize(request, chars);
  if (u.promptTokens > promptChars + allowance) {
    // A byte-level tokenizer spends up to a token per UTF-8 byte, not per character: text in a
    // script of several bytes a character (Amharic, Burmese, Tamil) counts more tokens than
    // characters. Measured only here, as few reports get this far.
    const promptBytes = promptSize(request, utf8Bytes);
    if (u.promptTokens > promptBytes + allowance)
      return `prompt_tokens ${u.promptTokens} exceeds what a ${promptBytes}-byte prompt can hold (${promptBytes + allowance})`;
  }
  if (u.completionTokens > request.maxTokens + SLACK)
    return `completion_tokens ${u.completionTokens} exceeds max_tokens ${request.maxTokens}`;
  if ((u.reasoningTokens ?? 0) > u.completionTokens)
    return `reasoning_tokens ${u.reasoningTokens} exceeds completion_tokens ${u.completionTokens}`;
  if (u.cachedTokens > u.promptTokens) return `cached_tokens ${u.cachedTokens} exceeds prompt_tokens ${u.promptTokens}`;
  if (u.cachedTokens + (u.cacheWriteTokens ?? 0) > u.promptTokens)
    return `cache_write_tokens ${u.cacheWriteTokens} and cached_tokens ${u.cachedTokens} exceed prompt_tokens ${u.promptTokens}`;
  if ((u.cacheWrite1hTokens ?? 0) > (u.cacheWriteTokens ?? 0))
    return `cache_write_1h_tokens ${u.cacheWrite1hTokens} exceeds cache_write_tokens ${u.cacheWriteTokens ?? 0}`;
  // Any answer is at least one token: a report of none for text or a tool call that was relayed would charge it nothing.
  if (u.completionTokens === 0 && generatedChars > 0) return `completion_tokens 0 for an answer of ${generatedChars} characters`;
  return undefined;
}

const chars = (text: string): number => text.length;
const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The prompt's text, tool definitions and tool calls, measured by `size`. */
function promptSize(request: UsageRequest, size: (text: string) => number): number {
  let total = request.tooling ? size(JSON.stringify(request.tooling)) : 0;
  for (const m of request.messages) {
    total += size(m.content);
    for (const call of m.toolCalls ?? []) total += size(call.id) + size(call.name) + size(call.arguments);
  }
  return total;
}

function notCount(name: string, value: number): string | undefined {
  return Number.isSafeInteger(value) && value >= 0 ? undefined : `${name} ${value} is not a non-negative integer`;
}
