import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine/index.js';
import { CHECKED_PAST_LIMIT, invalidArgument, modelNotFound, type FieldViolation } from '../../domain/errors.js';
import { modelNameProblem } from '../body-fields.js';
import { longerThan } from '../../domain/characters.js';
import { profileSpelling, ROUTING_PROFILES } from '../../engine/index.js';
import { routeHandler, type HttpCallDeps } from '../call.js';
import type { ChatLimits } from '../chat-request.js';
import { encodeDecision, encodeModel } from '../encode.js';
import { breakerState, catalogModels, findModel, rankModels } from '../engine-calls.js';

/** GET /v1/models (ListModels), /v1/models/rankings (RankModels), /v1/models/{id} (an id may hold slashes). */
export function modelRoutes(app: FastifyInstance, deps: HttpCallDeps, engine: Engine, limits: ChatLimits): void {
  app.get(
    '/v1/models',
    routeHandler(deps, { path: '/orchestrator.v1.ModelService/ListModels', kind: 'unary' }, async (_request, _reply, ctx) => ({
      json: { object: 'list', data: catalogModels(engine, ctx.principal).map((m) => encodeModel(m, breakerState(engine, m.id))) },
    })),
  );

  // Registered before /v1/models/*; Fastify prefers the static segment anyway.
  app.get(
    '/v1/models/rankings',
    routeHandler(deps, { path: '/orchestrator.v1.ModelService/RankModels', kind: 'unary' }, async (request, _reply, ctx) => {
      const query = request.query as Record<string, string | string[] | undefined>;
      const violations: FieldViolation[] = [];
      const profileRaw = profileSpelling(one(query.profile) ?? '') || 'balanced';
      const profile = ROUTING_PROFILES.find((p) => p === profileRaw);
      if (!profile)
        violations.push({
          field: 'profile',
          description: `must be one of ${ROUTING_PROFILES.join(', ')} (got ${JSON.stringify(profileRaw)})`,
        });
      const prompt = one(query.prompt) ?? '';
      if (longerThan(prompt, limits.maxContentChars))
        violations.push({ field: 'prompt', description: `must be at most ${limits.maxContentChars} characters` });
      const maxTokens = wholeNumber(query, 'max_tokens', violations);
      const promptTokens = wholeNumber(query, 'prompt_tokens', violations);
      // A misspelt or unsupported parameter would otherwise rank as if it were not there.
      for (const field of Object.keys(query))
        if (!RANKING_PARAMETERS.has(field)) violations.push({ field, description: 'is not a rankings parameter' });
      const candidates = [query.candidates ?? []]
        .flat()
        .flatMap((c) => c.split(','))
        .map((c) => c.trim())
        .filter((c) => c !== '');
      if (candidates.length > limits.maxModelsPerCall)
        violations.push({ field: 'candidates', description: `at most ${limits.maxModelsPerCall} models` });
      // As RankModels refuses it: looked up, such a name was a 404 unknown model.
      candidates.slice(0, CHECKED_PAST_LIMIT).forEach((name, i) => {
        const problem = modelNameProblem(name);
        if (problem !== undefined) violations.push({ field: `candidates[${i}]`, description: problem });
      });
      if (violations.length > 0 || !profile) throw invalidArgument(violations);
      const decision = await rankModels(engine, { profile, candidates, prompt, maxTokens, promptTokens }, ctx);
      return { json: { object: 'ranking', ...encodeDecision(decision) } };
    }),
  );

  // The rest of the path, slashes and all: model ids such as `meta-llama/llama-3.3-70b-instruct`
  // reach here whether or not the client encoded the slash.
  app.get(
    '/v1/models/*',
    routeHandler(deps, { path: '/orchestrator.v1.ModelService/ListModels', kind: 'unary' }, async (request, _reply, ctx) => {
      const id = (request.params as { '*': string })['*'];
      const model = findModel(engine, id, ctx.principal);
      if (!model) throw modelNotFound(id, 'id');
      return { json: encodeModel(model, breakerState(engine, model.id)) };
    }),
  );
}

const RANKING_PARAMETERS: ReadonlySet<string> = new Set(['profile', 'prompt', 'candidates', 'max_tokens', 'prompt_tokens']);

function wholeNumber(
  query: Record<string, string | string[] | undefined>,
  field: string,
  violations: FieldViolation[],
): number | undefined {
  const raw = one(query[field]);
  const value = raw === undefined ? undefined : Number(raw);
  if (value !== undefined && !(Number.isInteger(value) && value >= 1))
    violations.push({ field, description: 'must be a whole number, at least 1' });
  return value;
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
