import type OpenAI from 'openai';
import { estimateUsage, type PromptParts, type TokenUsage } from '../../domain/chat.js';

/**
 * OpenAI has no count of prompt tokens written to the prompt cache; OpenRouter reports them
 * beside `cached_tokens` (Claude served by OpenRouter, for one), billed above the prompt price.
 */
type PromptDetails = OpenAI.CompletionUsage.PromptTokensDetails & { readonly cache_write_tokens?: number | null };

/** DeepSeek's name for the prompt tokens read from its context cache, where OpenAI's `cached_tokens` may be missing. */
type CacheHits = { readonly prompt_cache_hit_tokens?: number | null };

/**
 * Upstream usage when reported; otherwise an estimate (about four characters a token). The
 * counts are taken as they came, whatever their type: the usage check refuses a report whose
 * counts are not counts.
 */
export function usageOf(usage: OpenAI.CompletionUsage | undefined | null, request: PromptParts, generated: string | number): TokenUsage {
  if (!usage) return estimateUsage(request, generated);
  const details: PromptDetails | undefined = usage.prompt_tokens_details;
  // A reasoning model's thinking: part of completion_tokens, never in the answer's text.
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  const written = details?.cache_write_tokens;
  // xAI counts the thinking apart from completion_tokens, in total_tokens only; it is billed as output all the same.
  const apart =
    typeof reasoning === 'number' && reasoning > 0 && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens + reasoning;
  return {
    promptTokens: usage.prompt_tokens,
    completionTokens: apart ? usage.completion_tokens + reasoning : usage.completion_tokens,
    totalTokens: usage.total_tokens,
    cachedTokens: details?.cached_tokens ?? (usage as CacheHits).prompt_cache_hit_tokens ?? 0,
    ...(reasoning !== undefined && reasoning !== null && reasoning !== 0 ? { reasoningTokens: reasoning } : {}),
    ...(written !== undefined && written !== null && written !== 0 ? { cacheWriteTokens: written } : {}),
  };
}
