import type { CacheCreation, MessageDeltaUsage, Usage } from '@anthropic-ai/sdk/resources/messages';
import { estimateUsage, type TokenUsage } from '../../domain/chat.js';
import type { ProviderRequest } from '../types.js';

/** Anthropic's usage: input_tokens excludes the prompt tokens read from or written to the cache. */
export interface UsageCounts {
  readonly input: number;
  readonly cacheRead: number;
  readonly cacheCreation: number;
  /** Of `cacheCreation`, the tokens written for an hour (`cache_creation.ephemeral_1h_input_tokens`), billed above a five-minute write. */
  readonly cacheCreation1h: number;
  readonly output: number;
}

type UsageFields = 'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens' | 'cache_creation';

export function countsOf(usage: Pick<Usage, UsageFields>): UsageCounts {
  return {
    input: usage.input_tokens ?? 0,
    cacheRead: usage.cache_read_input_tokens ?? 0,
    cacheCreation: usage.cache_creation_input_tokens ?? 0,
    cacheCreation1h: usage.cache_creation?.ephemeral_1h_input_tokens ?? 0,
    output: usage.output_tokens ?? 0,
  };
}

/** The API sends the write split in message_delta too, though the SDK's type leaves it out. */
type DeltaUsage = MessageDeltaUsage & { readonly cache_creation?: CacheCreation | null };

/**
 * message_delta's usage is cumulative; its input counts, when present, replace message_start's,
 * but for a zero beside a count message_start gave: some compatible servers (SGLang) put 0 there
 * for "reported at the start", and a cumulative count never falls to none.
 */
export function withDelta(start: UsageCounts | undefined, delta: DeltaUsage | null | undefined): UsageCounts | undefined {
  if (!delta) return start;
  // Without message_start's counts, a delta that lacks the input count is no whole report: the prompt would be charged as none.
  if (!start && (delta.input_tokens === null || delta.input_tokens === undefined)) return undefined;
  const counts: UsageCounts = {
    input: inputCount(delta.input_tokens, start?.input),
    cacheRead: inputCount(delta.cache_read_input_tokens, start?.cacheRead),
    cacheCreation: inputCount(delta.cache_creation_input_tokens, start?.cacheCreation),
    cacheCreation1h: inputCount(delta.cache_creation?.ephemeral_1h_input_tokens, start?.cacheCreation1h),
    output: delta.output_tokens ?? start?.output ?? 0,
  };
  // No prompt is empty: a server that says 0 at message_start and gives no count after never counted it.
  return counts.input + counts.cacheRead + counts.cacheCreation !== 0 ? counts : undefined;
}

function inputCount(delta: number | null | undefined, start: number | undefined): number {
  if (delta === null || delta === undefined || (delta === 0 && start !== undefined)) return start ?? 0;
  return delta;
}

/**
 * Prompt tokens are all of the prompt: uncached input, cache reads and cache writes. Cache
 * reads are also `cachedTokens`, priced at the cached rate; cache writes `cacheWriteTokens`,
 * priced above the input rate, the more so for those written for an hour (costOf).
 */
export function tokenUsageOf(counts: UsageCounts): TokenUsage {
  // Each count is checked, not only their sum: a negative one beside a larger one would pass as a
  // sum. NaN makes the usage check refuse the report and charge the estimate.
  const valid = [counts.input, counts.cacheRead, counts.cacheCreation, counts.cacheCreation1h, counts.output].every(
    (n) => Number.isSafeInteger(n) && n >= 0,
  );
  if (!valid) return { promptTokens: Number.NaN, completionTokens: Number.NaN, totalTokens: Number.NaN, cachedTokens: Number.NaN };
  const promptTokens = counts.input + counts.cacheRead + counts.cacheCreation;
  return {
    promptTokens,
    completionTokens: counts.output,
    totalTokens: promptTokens + counts.output,
    cachedTokens: counts.cacheRead,
    ...(counts.cacheCreation > 0 ? { cacheWriteTokens: counts.cacheCreation } : {}),
    ...(counts.cacheCreation1h > 0 ? { cacheWrite1hTokens: counts.cacheCreation1h } : {}),
  };
}

/** When an Anthropic-compatible server reports no usage: about four characters a token. */
export function estimatedUsage(request: ProviderRequest, generated: string | number): TokenUsage {
  return estimateUsage(request, generated);
}
