import type { FastifyInstance } from 'fastify';
import { invalidArgument, isOrchestratorError, Reason, type FieldViolation } from '../../domain/errors.js';
import { round3 } from '../../domain/latency.js';
import { BAD_TOKEN_ID, firstBadTokenId, type Engine } from '../../engine/index.js';
import type { EmbeddingInputs } from '../../providers/types.js';
import { callRoute, routeHandler, type HttpCallDeps, type RouteInfo } from '../call.js';
import { encodeAttempt } from '../errors.js';

const KNOWN_FIELDS = new Set(['model', 'input', 'dimensions', 'encoding_format', 'user']);

/** OpenAI's request shape -> Embed's fields; anything we cannot honour is a 400, never dropped. */
interface EmbeddingsBody {
  readonly model: string;
  readonly inputs: EmbeddingInputs;
  /** `input` was one string or one flat list of token ids: the one input is `input` itself. */
  readonly flat: boolean;
  readonly dimensions: number | undefined;
  readonly base64: boolean;
}

function parseEmbeddingsBody(body: unknown): EmbeddingsBody {
  const violations: FieldViolation[] = [];
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidArgument([{ field: 'body', description: 'must be a JSON object' }]);
  // A null field is an absent one, as on /v1/chat/completions.
  for (const key of Object.keys(b))
    if (!KNOWN_FIELDS.has(key) && b[key] !== null) violations.push({ field: key, description: 'is not supported by this gateway' });
  const model = b.model ?? '';
  if (typeof model !== 'string') violations.push({ field: 'model', description: 'must be a string' });
  const { inputs, flat } = parseInput(b.input, violations);
  const dimensions = b.dimensions ?? undefined;
  if (dimensions !== undefined && !(typeof dimensions === 'number' && Number.isInteger(dimensions) && dimensions >= 1)) {
    violations.push({ field: 'dimensions', description: 'must be a whole number, at least 1' });
  }
  const format = b.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') violations.push({ field: 'encoding_format', description: 'must be float or base64' });
  if (b.user != null && typeof b.user !== 'string') violations.push({ field: 'user', description: 'must be a string' });
  if (violations.length > 0) throw invalidArgument(violations);
  return { model: model as string, inputs, flat, dimensions: dimensions as number | undefined, base64: format === 'base64' };
}

const INPUT_SHAPE = 'must be a string, an array of strings, an array of token ids or an array of arrays of token ids';

/** OpenAI's four shapes of `input`; one array of numbers is one input of token ids. */
function parseInput(input: unknown, violations: FieldViolation[]): { inputs: EmbeddingInputs; flat: boolean } {
  if (typeof input === 'string') return { inputs: [input], flat: true };
  if (!Array.isArray(input)) {
    violations.push({ field: 'input', description: INPUT_SHAPE });
    return { inputs: [], flat: false };
  }
  if (input.every((s) => typeof s === 'string')) return { inputs: input as string[], flat: false };
  const lists: unknown[] = input.every((s) => typeof s === 'number') ? [input] : input;
  if (!lists.every((ids) => Array.isArray(ids) && ids.every((id) => typeof id === 'number'))) {
    violations.push({ field: 'input', description: INPUT_SHAPE });
    return { inputs: [], flat: false };
  }
  const tokens = lists as number[][];
  // The engine checks the ids too, but names them by EmbedRequest's nesting; one flat list is the
  // single input, and a bad id in it is named where the caller's JSON holds it.
  const bad = lists === input ? undefined : firstBadTokenId(tokens);
  if (bad) violations.push({ field: `input[${bad[1]}]`, description: BAD_TOKEN_ID });
  return { inputs: tokens, flat: lists !== input };
}

/**
 * The engine names the one input of a string inputs[0], of a flat list token_inputs[0]: here it
 * is `input`, the list's ids input[j].
 */
function asFlatInput(err: unknown): unknown {
  if (!isOrchestratorError(err) || err.reason !== Reason.INVALID_REQUEST) return err;
  const fields = err.fieldViolations.map((v) => v.field.replace(/^(?:token_)?inputs\[0\](?:\.ids(\[\d+\]))?$/, 'input$1'));
  if (fields.every((f, i) => f === err.fieldViolations[i]?.field)) return err;
  return invalidArgument(err.fieldViolations.map((v, i) => ({ field: fields[i] as string, description: v.description })));
}

/** Little-endian float32, as OpenAI encodes `encoding_format: base64`. */
function base64Of(vector: readonly number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

/** POST /v1/embeddings (EmbeddingService.Embed) in OpenAI's request and answer shapes. */
export function embeddingRoutes(app: FastifyInstance, deps: HttpCallDeps, engine: Engine): void {
  const route: RouteInfo = { path: '/orchestrator.v1.EmbeddingService/Embed', kind: 'unary' };
  app.post(
    '/v1/embeddings',
    callRoute(route),
    routeHandler(deps, route, async (request, _reply, ctx) => {
      const req = parseEmbeddingsBody(request.body);
      const answer = await engine.embed({ ctx, model: req.model, inputs: req.inputs, dimensions: req.dimensions }).catch((err: unknown) => {
        throw req.flat ? asFlatInput(err) : err;
      });
      return {
        json: {
          object: 'list',
          data: answer.vectors.map((v, index) => ({ object: 'embedding', index, embedding: req.base64 ? base64Of(v) : v })),
          model: answer.model,
          usage: { prompt_tokens: answer.usage.promptTokens, total_tokens: answer.usage.totalTokens },
          x_orchestrator: {
            request_id: ctx.requestId,
            provider: answer.provider,
            simulated: answer.simulated,
            cost_usd: answer.costUsd,
            latency_ms: round3(answer.latencyMs),
            dimensions: answer.dimensions,
            attempts: answer.attempts.map(encodeAttempt),
            cache: answer.cache ? { hit: answer.cache.hit, stale: false, age_seconds: answer.cache.ageMs / 1000 } : null,
          },
        },
      };
    }),
  );
}
