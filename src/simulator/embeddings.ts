import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { endingOf, faultDelayMs, slowTokenIntervalMs } from './answer-plan.js';
import { openAiFaultError } from './chat-exchange.js';
import { answerEarlyFault } from './early-fault.js';
import type { FaultBook, FaultKind } from './faults.js';
import { errorBody, readBody, sendJson } from './http-io.js';
import { sendJsonEnding } from './json-responder.js';
import type { RequestLog } from './records.js';
import { watchResponse } from './response-watch.js';
import { sleep } from './timing.js';

/** Native vector length of the simulated embedding models; unknown models get 1536. */
const NATIVE_DIMENSIONS: Readonly<Record<string, number>> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};
/** Models that answer their native length only: the API refuses `dimensions` on them, whatever its value. */
const FIXED_DIMENSIONS: ReadonlySet<string> = new Set(['text-embedding-ada-002']);
const MAX_INPUTS = 2048;
/** A model declines a question, not a list of texts to embed: the vectors are answered. */
const NOT_FOR_VECTORS: readonly FaultKind[] = ['refusal'];

/**
 * A deterministic unit vector for (model, input), the input a text or token ids: the same input
 * always embeds the same, two different inputs almost surely differ. Values come from SHA-256
 * in counter mode, mapped to [-1, 1], then normalised to length 1 as OpenAI's vectors are.
 */
export function simulatedVector(model: string, input: string | readonly number[], dimensions: number): number[] {
  // Token ids hash as their JSON, which no text's own bytes can be mistaken for: a text is hashed after a NUL.
  const text = typeof input === 'string' ? `\0${input}` : JSON.stringify(input);
  const values: number[] = [];
  for (let block = 0; values.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${model}\0${block}${text}`).digest();
    for (let i = 0; i + 4 <= digest.length && values.length < dimensions; i += 4) {
      values.push(digest.readUInt32LE(i) / 0x7fffffff - 1);
    }
  }
  const norm = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0)) || 1;
  return values.map((v) => Math.fround(v / norm));
}

function invalid(res: ServerResponse, message: string, param: string): void {
  sendJson(res, 400, errorBody(message, { type: 'invalid_request_error', code: 'invalid_value', param }));
}

function isTokenInputs(inputs: readonly unknown[]): inputs is number[][] {
  return inputs.every((ids) => Array.isArray(ids) && ids.length > 0 && ids.every((id) => Number.isInteger(id) && id >= 0));
}

/** What POST /v1/embeddings shares with the chat endpoints: the fault rules and the request log. */
export interface EmbeddingsEndpoint {
  readonly faults: FaultBook;
  readonly log: RequestLog;
}

/**
 * POST /v1/embeddings: OpenAI's request and answer shapes, floats or base64 float32. Fault
 * rules apply as to chat: errors, hang and delay as there; cut and malformed break the body;
 * truncate answers fewer vectors than inputs; slow reads the input at its token rate.
 */
export async function handleEmbeddings(req: IncomingMessage, res: ServerResponse, endpoint: EmbeddingsEndpoint): Promise<void> {
  const body = await readBody(req);
  if (body.kind === 'aborted') return;
  if (body.kind === 'too_large') return invalid(res, 'request body too large', 'input');
  let parsed: { model?: unknown; input?: unknown; dimensions?: unknown; encoding_format?: unknown };
  try {
    parsed = JSON.parse(body.text) as typeof parsed;
  } catch {
    return invalid(res, 'the body is not valid JSON', 'body');
  }
  const { model, dimensions, encoding_format: format = 'float' } = parsed ?? {};
  if (typeof model !== 'string' || model === '') return invalid(res, 'model is required', 'model');
  const inputs = typeof parsed.input === 'string' ? [parsed.input] : parsed.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > MAX_INPUTS) {
    return invalid(res, `input must be a string or 1 to ${MAX_INPUTS} strings`, 'input');
  }
  if (!(inputs.every((s) => typeof s === 'string' && s !== '') || isTokenInputs(inputs) || isTokenInputs([inputs]))) {
    return invalid(res, 'input must be non-empty strings, or arrays of token ids', 'input');
  }
  // One array of ids is one input, as OpenAI reads it.
  const items: readonly (string | readonly number[])[] = isTokenInputs([inputs]) ? [inputs as number[]] : inputs;
  const native = NATIVE_DIMENSIONS[model] ?? 1536;
  if (dimensions !== undefined && dimensions !== null && FIXED_DIMENSIONS.has(model)) {
    return sendJson(res, 400, errorBody('This model does not support specifying dimensions.', { type: 'invalid_request_error' }));
  }
  if (
    dimensions !== undefined &&
    (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > native)
  ) {
    return invalid(res, `dimensions must be an integer from 1 to ${native}`, 'dimensions');
  }
  if (format !== 'float' && format !== 'base64') return invalid(res, 'encoding_format must be float or base64', 'encoding_format');
  const length = typeof dimensions === 'number' ? dimensions : native;
  const promptTokens = items.reduce<number>((sum, s) => sum + (typeof s === 'string' ? Math.max(1, Math.ceil(s.length / 4)) : s.length), 0);
  const fault = endpoint.faults.take(model, NOT_FOR_VECTORS);
  const record = endpoint.log.begin({ model, stream: false, body: parsed, headers: req.headers, fault: fault?.kind });
  const watch = watchResponse(req, res, { record, log: endpoint.log });
  const requestId = { 'x-request-id': `sim-${record.id}` };
  if (await answerEarlyFault(res, fault, model, watch, requestId, openAiFaultError)) return;
  const readMs = promptTokens * (slowTokenIntervalMs(fault) ?? 0);
  if (!(await sleep(faultDelayMs(fault) + readMs, watch.signal))) return;
  // Always short, even of a single input: a list as long as the inputs would be no fault at all.
  const kept = fault?.kind === 'truncate' ? Math.min(fault.afterTokens ?? Number.POSITIVE_INFINITY, items.length - 1) : items.length;
  const answer = {
    object: 'list',
    model,
    data: items.slice(0, kept).map((input, index) => {
      const vector = simulatedVector(model, input, length);
      const embedding = format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    }),
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
  sendJsonEnding(res, answer, requestId, endingOf(fault), watch);
}
