import { performance } from 'node:perf_hooks';
import type { EmbeddingCatalog, EmbeddingCatalogModel } from '../../catalog/embedding-models.js';
import { DEFAULT_EMBEDDING_MODEL } from '../../catalog/embedding-models.js';
import type { Catalog, CatalogModel } from '../../catalog/catalog.js';
import {
  addUsage,
  CHARS_PER_TOKEN,
  estimateUsage,
  totalCost,
  usageTotal,
  type AttemptRecord,
  type ChatMessage,
  type TokenUsage,
} from '../../domain/chat.js';
import { characterCount, longerThan } from '../../domain/characters.js';
import { noEmbeddingsApi } from '../../domain/embedding-errors.js';
import { CHECKED_PAST_LIMIT, invalidArgument, modelNotFound, type FieldViolation } from '../../domain/errors.js';
import { canEmbed, type EmbeddingInputs, type EmbeddingResult } from '../../providers/types.js';
import type { Admission } from '../admission.js';
import { aggregateFailure } from '../aggregate.js';
import type { AttemptRunner, AttemptSpec } from '../attempt.js';
import type { CallContext } from '../context.js';
import { cachedEmbedding, embedCacheKey, storeEmbedding, type EmbedCacheDeps } from './embed-cache.js';
import type { UpstreamCall } from '../upstream-call.js';
import { checkUsage } from '../usage-check.js';
import { extend } from '../../domain/extend.js';

/** Inputs one Embed call may carry, and the characters of each. */
export const MAX_EMBED_INPUTS = 256;
export const MAX_EMBED_INPUT_CHARS = 50_000;

export interface EmbedCall {
  readonly ctx: CallContext;
  /** Model id or alias; empty: text-embedding-3-small. */
  readonly model: string;
  /** Texts, or token ids, each input at most the model's context window of tokens. */
  readonly inputs: EmbeddingInputs;
  /** 0 or undefined: the model's native length. */
  readonly dimensions?: number | undefined;
  /** Problems the request's decoding found (both kinds of input set): listed first, with the rest. */
  readonly known?: readonly FieldViolation[] | undefined;
}

export interface EmbedAnswer {
  /** One vector per input, in input order. */
  readonly vectors: readonly (readonly number[])[];
  readonly model: string;
  readonly provider: string;
  readonly dimensions: number;
  readonly usage: TokenUsage;
  readonly costUsd: number;
  readonly latencyMs: number;
  readonly attempts: readonly AttemptRecord[];
  readonly simulated: boolean;
  /** Set when the answer came from the response cache. */
  readonly cache?: { readonly hit: boolean; readonly ageMs: number } | undefined;
}

export interface EmbedDeps {
  readonly runner: AttemptRunner;
  readonly admission: Admission;
  readonly embeddings: EmbeddingCatalog;
  readonly chatCatalog: Catalog;
  readonly attemptTimeoutMs?: number | undefined;
  readonly cache?: EmbedCacheDeps | undefined;
}

export const BAD_TOKEN_ID = 'token ids must be whole numbers, at least 0';

/** Where the first id that is no token id is: [input, position in it]. */
export function firstBadTokenId(inputs: readonly (readonly number[])[]): [number, number] | undefined {
  const isId = (id: number) => Number.isSafeInteger(id) && id >= 0;
  const input = inputs.findIndex((ids) => !ids.every(isId));
  return input < 0 ? undefined : [input, (inputs[input] as readonly number[]).findIndex((id) => !isId(id))];
}

/**
 * Checks the request against the catalog; the field paths are those of EmbedRequest: texts are
 * its inputs, token ids its token_inputs.
 */
export function resolveEmbedModel(
  deps: Pick<EmbedDeps, 'embeddings' | 'chatCatalog'> & { readonly embeds?: (model: CatalogModel) => string | undefined },
  req: Omit<EmbedCall, 'ctx'>,
): EmbeddingCatalogModel {
  const violations: FieldViolation[] = [...(req.known ?? [])];
  const field = req.inputs.length > 0 && isTokens(req.inputs) ? 'token_inputs' : 'inputs';
  if (req.inputs.length === 0) violations.push({ field, description: 'at least one input is required' });
  const overCount = req.inputs.length > MAX_EMBED_INPUTS;
  if (overCount) {
    violations.push({ field, description: `at most ${MAX_EMBED_INPUTS} inputs per call, got ${req.inputs.length}` });
  }
  const checked: readonly (string | readonly number[])[] = overCount ? req.inputs.slice(0, CHECKED_PAST_LIMIT) : req.inputs;
  checked.forEach((input, i) => {
    if (typeof input !== 'string') {
      if (input.length === 0) violations.push({ field: `${field}[${i}]`, description: 'must not be empty' });
      const bad = firstBadTokenId([input]);
      if (bad) violations.push({ field: `${field}[${i}].ids[${bad[1]}]`, description: BAD_TOKEN_ID });
    } else if (input.trim().length === 0) violations.push({ field: `${field}[${i}]`, description: 'must not be empty' });
    else if (longerThan(input, MAX_EMBED_INPUT_CHARS)) {
      violations.push({
        field: `${field}[${i}]`,
        description: `at most ${MAX_EMBED_INPUT_CHARS} characters, got ${characterCount(input)}`,
      });
    }
  });
  const name = req.model.trim() || DEFAULT_EMBEDDING_MODEL;
  const model = deps.embeddings.find(name);
  if (!model) {
    if (violations.length > 0) throw invalidArgument(violations);
    const chat = deps.chatCatalog.find(name);
    const refusing = chat ? deps.embeds?.(chat) : undefined;
    if (refusing) {
      throw invalidArgument([{ field: 'model', description: `"${name}" is served by ${refusing}, which has no embeddings API` }]);
    }
    if (chat) {
      throw invalidArgument([
        {
          field: 'model',
          description: `"${name}" is a chat model, not an embedding model: call ChatService.Chat (POST /v1/chat/completions) for it (embedding models: ${deps.embeddings.models.map((m) => m.id).join(', ')})`,
        },
      ]);
    }
    throw modelNotFound(name, 'model');
  }
  const dimensions = req.dimensions ?? 0;
  // A text past the window is the upstream's to refuse; token ids are counted here.
  checked.forEach((input, i) => {
    if (typeof input !== 'string' && input.length > model.contextWindow) {
      violations.push({
        field: `${field}[${i}]`,
        description: `at most ${model.contextWindow} tokens for ${model.id}, got ${input.length}`,
      });
    }
  });
  if (dimensions < 0 || dimensions > model.dimensions) {
    violations.push({ field: 'dimensions', description: `must be between 1 and ${model.dimensions} for ${model.id}, got ${dimensions}` });
  } else if (dimensions > 0 && dimensions !== model.dimensions && !model.shortenable) {
    violations.push({ field: 'dimensions', description: `${model.id} only returns ${model.dimensions}-dimension vectors` });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return model;
}

/**
 * OpenAI takes at most 300,000 tokens in one embeddings request, its inputs together. A token is
 * at least one byte of UTF-8, so a request whose inputs stay within that many bytes never passes
 * it (token ids count as themselves); a call past it goes upstream as several requests, in input order.
 */
const MAX_REQUEST_TOKENS = 300_000;

/** A UTF-16 code unit is at most 3 bytes of UTF-8. */
const MAX_UTF8_BYTES_PER_CHAR = 3;

/** The most tokens an input can be: its token ids, or its text's UTF-8 bytes. */
function tokenBound(input: string | readonly number[]): number {
  return typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
}

/** The inputs in the requests they go upstream in. */
function requestBatches<I extends string | readonly number[]>(inputs: readonly I[]): (readonly I[])[] {
  // Most calls fit in one request by their length alone: no byte counting for them.
  let size = 0;
  for (const input of inputs) size += typeof input === 'string' ? input.length * MAX_UTF8_BYTES_PER_CHAR : input.length;
  if (size <= MAX_REQUEST_TOKENS) return [inputs];
  const batches: I[][] = [];
  let batch: I[] = [];
  let tokens = 0;
  for (const input of inputs) {
    const bound = tokenBound(input);
    if (batch.length > 0 && tokens + bound > MAX_REQUEST_TOKENS) {
      batches.push(batch);
      batch = [];
      tokens = 0;
    }
    batch.push(input);
    tokens += bound;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * The inputs as the messages the token estimate reads (usage checks, an attempt cut short):
 * a text as it is, token ids as the text the estimate counts as that many tokens.
 */
function estimatedAs(input: string | readonly number[]): ChatMessage {
  return { role: 'user', content: typeof input === 'string' ? input : ' '.repeat(input.length * CHARS_PER_TOKEN) };
}

/** What the call's record keeps of an input: the text, or the token ids as JSON. */
function recordedAs(input: string | readonly number[]): string {
  return typeof input === 'string' ? input : JSON.stringify(input);
}

/** An embeddings attempt's spec: the inputs and the vector length asked for. */
interface EmbedSpec extends AttemptSpec {
  readonly inputs: EmbeddingInputs;
  readonly dimensions: number | undefined;
  readonly nativeDimensions: number;
}

/**
 * One embeddings request; the usage is the upstream's prompt tokens when they are believable
 * (usage-check.ts, as for a completion: they set the key's token limits and budgets).
 */
const EMBEDDING: UpstreamCall<EmbedSpec, EmbeddingResult> = {
  operation: 'embeddings',
  send(spec, provider, signal, headers) {
    if (!canEmbed(provider)) return Promise.reject(noEmbeddingsApi(provider.name, spec.model.id));
    return provider.embed({
      upstreamModel: spec.model.upstreamId,
      inputs: spec.inputs,
      dimensions: spec.dimensions,
      nativeDimensions: spec.nativeDimensions,
      signal,
      headers,
    });
  },
  settle(spec, provider, value) {
    // No report at all is charged the estimate, as a chat answer without usage is.
    if (value.promptTokens === undefined) return { value, usage: estimateUsage(spec, 0), estimated: true };
    const reported = { promptTokens: value.promptTokens, completionTokens: 0, totalTokens: value.promptTokens, cachedTokens: 0 };
    const checked = checkUsage(reported, spec, 0, { log: spec.log, model: spec.model.id, provider: provider.name });
    return { value, usage: checked.usage, estimated: checked.refused !== undefined };
  },
};

/** Embed: one model with the chat calls' admission, retries, breaker, deadline and attempt records. */
export async function runEmbed(deps: EmbedDeps, req: EmbedCall): Promise<EmbedAnswer> {
  const embeds = (chat: CatalogModel): string | undefined => {
    const provider = deps.runner.providerOf(chat);
    return provider && !canEmbed(provider) ? provider.name : undefined;
  };
  const model = resolveEmbedModel(extend(deps, { embeds }), req);
  const dimensions = req.dimensions && req.dimensions !== model.dimensions ? req.dimensions : undefined;
  // What the call asked and got, for the record of the call (the ledger), as chat calls tell theirs.
  const inputs: readonly (string | readonly number[])[] = req.inputs;
  req.ctx.upstream?.requested?.({ model: req.model || undefined, prompt: inputs.map(recordedAs).join('\n'), raced: false });
  const estimatedTokens = inputs.reduce<number>(
    (sum, s) => sum + (typeof s === 'string' ? Math.ceil(s.length / CHARS_PER_TOKEN) : s.length),
    0,
  );
  // Embedding prices are not in the chat catalog the budget hold reads: hold the inputs at this model's price.
  const maxCostUsd = (estimatedTokens * model.inputPricePerMillion) / 1e6;
  const admitted = await deps.admission.admitDemand(req.ctx, { models: [model.id], estimatedTokens, outputTokens: 0, maxCostUsd });
  try {
    const ctx = admitted.ctx;
    const key = embedCacheKey(model.id, req.inputs, dimensions);
    const hit = deps.cache ? await cachedEmbedding(deps.cache, key, model, ctx) : undefined;
    if (hit) return told(req.ctx, hit);
    const provider = deps.runner.providerOf(model);
    if (provider && !canEmbed(provider)) throw noEmbeddingsApi(provider.name, model.id);
    const vectors: (readonly number[])[] = [];
    const records: AttemptRecord[] = [];
    const usage: TokenUsage = usageTotal();
    let answeredBy = '';
    for (const inputs of batchesOf(req.inputs)) {
      const spec: EmbedSpec = {
        model,
        // Only the token estimate of an attempt that never reports usage reads these.
        messages: (inputs as readonly (string | readonly number[])[]).map(estimatedAs),
        temperature: 0,
        maxTokens: 0,
        signal: ctx.signal,
        deadline: ctx.deadline,
        timeoutMs: deps.attemptTimeoutMs,
        upstream: ctx.upstream,
        log: ctx.log,
        inputs,
        dimensions,
        nativeDimensions: model.dimensions,
      };
      // The provider's cap on requests in flight, its breaker, retries and records: as a chat attempt's.
      const attempt = await deps.runner.call(spec, EMBEDDING);
      for (const record of attempt.records) records.push(record);
      if (!attempt.ok) throw aggregateFailure(records, ctx.signal);
      for (const vector of attempt.value.vectors) vectors.push(vector);
      addUsage(usage, attempt.record.usage);
      answeredBy = attempt.record.provider;
    }
    const answer: EmbedAnswer = {
      vectors,
      model: model.id,
      provider: answeredBy,
      dimensions: vectors[0]?.length ?? model.dimensions,
      usage,
      costUsd: totalCost(records),
      latencyMs: performance.now() - ctx.startedAt,
      attempts: records,
      simulated: model.simulated,
      // Consulted and missed: the answer says so, as a chat answer's does.
      cache: deps.cache?.cache ? { hit: false, ageMs: 0 } : undefined,
    };
    if (deps.cache) await storeEmbedding(deps.cache, key, answer);
    return told(req.ctx, answer);
  } finally {
    admitted.release();
  }
}

/** Each batch holds one kind of input, as the call did. */
function batchesOf(inputs: EmbeddingInputs): EmbeddingInputs[] {
  return isTokens(inputs) ? requestBatches(inputs) : requestBatches(inputs as readonly string[]);
}

function isTokens(inputs: EmbeddingInputs): inputs is readonly (readonly number[])[] {
  return typeof inputs[0] !== 'string';
}

function told(ctx: CallContext, answer: EmbedAnswer): EmbedAnswer {
  ctx.upstream?.answered?.({
    content: '',
    model: answer.model,
    provider: answer.provider,
    usage: answer.usage,
    costUsd: answer.costUsd,
    attempts: answer.attempts,
    cache: answer.cache ? { hit: answer.cache.hit, stale: false } : undefined,
  });
  return answer;
}
