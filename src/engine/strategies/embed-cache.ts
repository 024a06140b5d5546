import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { EmbeddingCatalogModel } from '../../catalog/embedding-models.js';
import type { Answer } from '../answer.js';
import type { CallContext } from '../context.js';
import type { EventSink } from '../events.js';
import type { AnswerCache } from '../ports.js';
import type { EmbeddingInputs } from '../../providers/types.js';
import type { EmbedAnswer } from './embed.js';

/**
 * Embeddings share the response cache with chat answers: an entry's text is the vectors as
 * JSON, under a key of its own domain ("embed", model, inputs, dimensions), so a chat request
 * can never meet one (token ids are JSON arrays there, a text a JSON string: never the same key).
 * Embedding models are deterministic: every request is cacheable.
 */
export function embedCacheKey(model: string, inputs: EmbeddingInputs, dimensions: number | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify(['embed', model, inputs, dimensions ?? 0]))
    .digest('hex');
}

export interface EmbedCacheDeps {
  readonly cache: AnswerCache | undefined;
  readonly events: EventSink;
}

/** A fresh cached answer for the request (no upstream call, cost 0), or undefined. */
export async function cachedEmbedding(
  deps: EmbedCacheDeps,
  key: string,
  model: EmbeddingCatalogModel,
  ctx: Pick<CallContext, 'signal' | 'startedAt'>,
): Promise<EmbedAnswer | undefined> {
  if (!deps.cache) return undefined;
  const entry = await deps.cache.get(key, ctx.signal).catch(() => undefined);
  const vectors = entry && !entry.stale ? parseVectors(entry.answer.content) : undefined;
  deps.events.emit({ type: 'cache_lookup', outcome: vectors ? 'hit' : 'miss' });
  if (!entry || !vectors) return undefined;
  return {
    vectors,
    model: entry.answer.model,
    provider: entry.answer.provider,
    dimensions: vectors[0]?.length ?? model.dimensions,
    usage: entry.answer.usage,
    costUsd: 0,
    latencyMs: performance.now() - ctx.startedAt,
    attempts: [],
    simulated: model.simulated,
    cache: { hit: true, ageMs: Date.now() - entry.storedAt },
  };
}

export async function storeEmbedding(deps: EmbedCacheDeps, key: string, answer: EmbedAnswer): Promise<void> {
  if (!deps.cache) return;
  const entry: Answer = {
    content: JSON.stringify(answer.vectors),
    model: answer.model,
    provider: answer.provider,
    finishReason: 'stop',
    usage: answer.usage,
    costUsd: answer.costUsd,
    latencyMs: answer.latencyMs,
    attempts: [],
  };
  await deps.cache.set(key, entry).catch(() => undefined);
}

function parseVectors(text: string): number[][] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((v) => Array.isArray(v) && v.every((x) => typeof x === 'number'))) return value as number[][];
  } catch {
    // Not an embedding entry.
  }
  return undefined;
}
