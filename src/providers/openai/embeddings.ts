import type OpenAI from 'openai';
import type { BoundedRequestInit } from '../http/undici-fetch.js';
import type { EmbeddingRequest, EmbeddingResult } from '../types.js';
import { malformed } from '../upstream-errors.js';

/** No embedding model returns longer vectors; anything longer is a broken upstream, not data. */
export const MAX_EMBEDDING_DIMENSIONS = 16_384;

/**
 * The most a float takes in an answer: up to 24 characters ("-1.2345678901234567e-308"), its
 * comma, and the newline and indent of a pretty-printed answer (api.openai.com's).
 */
const MAX_BYTES_PER_VALUE = 48;
/** A vector's object around its values: `object`, `index`, brackets and indent. */
const MAX_BYTES_PER_VECTOR = 1024;

/**
 * The body limit of one embeddings answer: UPSTREAM_MAX_BODY_BYTES, or what the vectors asked
 * for can take when that is more (256 inputs of 3,072 floats are some 16 MB of JSON): a valid
 * answer is never refused as too large, and an answer is still bounded by the request.
 */
export function embeddingsBodyLimit(request: EmbeddingRequest, maxBodyBytes: number): number {
  const length = request.dimensions ?? request.nativeDimensions;
  if (length === undefined) return maxBodyBytes;
  return Math.max(maxBodyBytes, request.inputs.length * (length * MAX_BYTES_PER_VALUE + MAX_BYTES_PER_VECTOR));
}

type SdkFetchOptions = NonNullable<NonNullable<Parameters<OpenAI['embeddings']['create']>[1]>['fetchOptions']>;

interface WireEmbedding {
  readonly index?: unknown;
  readonly embedding?: unknown;
}

/**
 * POST /v1/embeddings with float encoding. The answer is checked before anyone sees it: one
 * vector per input (each index once), every vector the same length (the requested one when
 * `dimensions` was sent), finite numbers; the usage report is the engine's to check.
 */
export async function embedThroughOpenAI(
  client: OpenAI,
  provider: string,
  request: EmbeddingRequest,
  options: { readonly maxBodyBytes: number; readonly translate: (err: unknown) => Error },
): Promise<EmbeddingResult> {
  let response: OpenAI.CreateEmbeddingResponse;
  const fetchOptions: SdkFetchOptions & BoundedRequestInit = { maxBodyBytes: embeddingsBodyLimit(request, options.maxBodyBytes) };
  try {
    response = await client.embeddings.create(
      {
        model: request.upstreamModel,
        // Token ids go as they came: an OpenAI-compatible upstream takes either kind.
        input: request.inputs as string[] | number[][],
        encoding_format: 'float',
        ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
      },
      { signal: request.signal, headers: request.headers, fetchOptions },
    );
  } catch (err) {
    throw options.translate(err);
  }
  return checkEmbeddingResponse(provider, request, response);
}

export function checkEmbeddingResponse(provider: string, request: EmbeddingRequest, response: unknown): EmbeddingResult {
  const body = response as { data?: unknown; usage?: { prompt_tokens?: unknown } } | null;
  const data = body?.data;
  if (!Array.isArray(data)) throw malformed(provider, 'embeddings response (no data array)');
  if (data.length !== request.inputs.length) {
    throw malformed(provider, `embeddings response (${data.length} vectors for ${request.inputs.length} inputs)`);
  }
  const vectors: (readonly number[] | undefined)[] = new Array(data.length).fill(undefined);
  let length = request.dimensions;
  for (const item of data as WireEmbedding[]) {
    const index = item?.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= data.length || vectors[index]) {
      throw malformed(provider, 'embeddings response (an index out of range or repeated)');
    }
    const vector = item.embedding;
    if (!Array.isArray(vector) || vector.length === 0 || vector.length > MAX_EMBEDDING_DIMENSIONS) {
      throw malformed(provider, 'embeddings response (a vector that is not a list of floats)');
    }
    length ??= vector.length;
    if (vector.length !== length)
      throw malformed(provider, `embeddings response (a vector of ${vector.length} dimensions, expected ${length})`);
    // Vectors go out as float32 (EmbedResponse's values, base64): a value past its range would be Infinity there.
    if (!vector.every((v) => typeof v === 'number' && Number.isFinite(Math.fround(v)))) {
      throw malformed(provider, 'embeddings response (a vector with a value that is not a finite float)');
    }
    vectors[index] = vector as number[];
  }
  // Taken as it came, whatever its type: the usage check charges the estimate for a count that is
  // no count, and for none at all (many local OpenAI-compatible servers report no usage), as for chat.
  const promptTokens = body?.usage?.prompt_tokens ?? undefined;
  return { vectors: vectors as (readonly number[])[], promptTokens: promptTokens as number | undefined };
}
