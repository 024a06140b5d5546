import { modelNameTooLong } from '../domain/model-names.js';
import { checkDefaultMessage, type ChatInput, type RequestTags } from '../domain/chat.js';
import { checkPromptCacheMarkers, type MarkerFields } from '../domain/prompt-cache.js';
import { parseMessages } from './message-fields.js';
import { parseToolingFields } from './tool-fields.js';
import type { CachePolicy, ModelRef, RouteRequest } from '../engine/index.js';
import { profileSpelling, ROUTING_PROFILES } from '../engine/index.js';
import { invalidArgument, isOrchestratorError, Reason } from '../domain/errors.js';
import { parseSamplingFields } from './sampling-fields.js';
import { httpField, sentField, type RequestSpelling } from './field-paths.js';
import {
  Violations,
  isObject,
  header,
  numberIn,
  integerIn,
  booleanField,
  stringField,
  enumField,
  stringList,
  shown,
  modelNameProblem,
} from './body-fields.js';

/**
 * POST /v1/chat/completions, decoded and checked: the OpenAI request as the SDKs send it, plus
 * our `orchestrator` extension and its header forms. Every violation is collected, so the
 * caller learns everything wrong in one round trip; a field we do not support yet is refused
 * by name, never dropped in silence.
 */

export interface ChatLimits {
  readonly maxContentChars: number;
  readonly maxModelsPerCall: number;
  readonly defaultTemperature: number;
  /** IMAGE_MAX_BYTES. */
  readonly maxImageBytes?: number;
}

export type Strategy = 'single' | 'fallback' | 'race';

/** Where a chat completion's body holds its prompt cache markers. */
const MARKER_FIELDS: MarkerFields = {
  message: (i) => `messages[${i}].cache_control`,
  part: (i, j) => `messages[${i}].content[${j}].cache_control`,
  tool: (k) => `tools[${k}].cache_control`,
};

export interface ChatCompletionRequest {
  readonly input: ChatInput;
  readonly model: ModelRef;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** Errors name the fields as the body spelled them. */
  readonly spelling: RequestSpelling;
  readonly strategy: Strategy;
  /** Fallback chain or racers in order, `model` first; empty: `model` and its configured fallbacks. */
  readonly models: readonly ModelRef[];
  readonly hedgeDelayMs: number | undefined;
  readonly route: RouteRequest | undefined;
  readonly defaultMessage: string | undefined;
  readonly disableDefaultMessage: boolean;
  readonly restartOnFailure: boolean;
  readonly attemptTimeoutMs: number | undefined;
  readonly firstTokenTimeoutMs: number | undefined;
  readonly interTokenTimeoutMs: number | undefined;
  readonly cache: CachePolicy;
  /** `metadata`: request tags for the log line and the trace. */
  readonly tags: RequestTags | undefined;
}

export const PROFILE_HEADER = 'x-orchestrator-profile';
export const FALLBACKS_HEADER = 'x-orchestrator-fallbacks';
/** `model: "route:speed"`: a routed request in the model field alone. */
const ROUTE_PREFIX = 'route:';

const STRATEGIES: readonly Strategy[] = ['single', 'fallback', 'race'];
const CACHE_MODES: readonly CachePolicy['mode'][] = ['auto', 'use', 'bypass'];

/** Accepted and used. */
const SUPPORTED = new Set([
  'model',
  'messages',
  'temperature',
  'max_tokens',
  'max_completion_tokens',
  'stream',
  'stream_options',
  'n',
  'orchestrator',
  'top_p',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'user',
  'reasoning_effort',
  'metadata',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
]);

/**
 * OpenAI fields we do not support yet, accepted only at their "off" value (null, or the value given).
 * A Map, not an object literal: a body field named `constructor` or `toString` must not find Object's own.
 */
const OFF_VALUES: ReadonlyMap<string, readonly (string | number | boolean)[]> = new Map([
  ['logprobs', [false]],
  ['store', [false]],
]);

/** OpenAI request fields this gateway does not implement yet: refused by name, at any value but null. */
const NOT_YET = new Set([
  'logit_bias',
  'top_logprobs',
  'functions',
  'function_call',
  'modalities',
  'audio',
  'prediction',
  'service_tier',
  'web_search_options',
  'verbosity',
  'prompt_cache_key',
  'prompt_cache_options',
  'prompt_cache_retention',
  'safety_identifier',
  'moderation',
]);

const ORCHESTRATOR_FIELDS = new Set([
  'strategy',
  'models',
  'hedge_delay_ms',
  'route',
  'default_message',
  'disable_default_message',
  'restart_on_failure',
  'attempt_timeout_ms',
  'first_token_timeout_ms',
  'inter_token_timeout_ms',
  'cache',
]);

type Json = Record<string, unknown>;

export function parseChatRequest(
  body: unknown,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  limits: ChatLimits,
): ChatCompletionRequest {
  const v = new Violations();
  if (!isObject(body)) throw invalidArgument([{ field: 'body', description: 'must be a JSON object' }]);
  // for-in over a parsed JSON object: its own fields only, without an array of pairs per request.
  for (const field in body) {
    const value = body[field];
    if (SUPPORTED.has(field) || value === null || value === undefined) continue;
    const off = OFF_VALUES.get(field);
    if (off?.includes(value as string | number | boolean)) continue;
    v.add(field, off || NOT_YET.has(field) ? 'is not supported by this gateway yet' : 'is not a chat completion field');
  }
  const model = typeof body.model === 'string' ? body.model.trim() : '';
  if (model === '') v.add('model', 'is required: a model id or alias (GET /v1/models), or "route:<profile>"');
  else {
    const tooLong = modelNameTooLong(model);
    if (tooLong) v.add('model', tooLong);
  }
  const n = body.n;
  if (n !== undefined && n !== null && n !== 1) v.add('n', `only 1 is supported (got ${shown(n)})`);
  const spelling: RequestSpelling = {
    maxTokens: body.max_completion_tokens === undefined || body.max_completion_tokens === null ? 'max_tokens' : 'max_completion_tokens',
    oneStop: typeof body.stop === 'string',
  };
  const { sampling, tags } = parseSamplingFields(body, (field, description) => v.add(sentField(field, spelling), description));
  const tooling = parseToolingFields(body, v);
  const input: ChatInput = {
    messages: parseMessages(body.messages, limits, v),
    temperature: numberIn(v, 'temperature', body.temperature, 0, 2) ?? limits.defaultTemperature,
    maxTokens: maxTokens(body, v),
    ...(sampling ? { sampling } : {}),
    ...(tooling ? { tooling } : {}),
  };
  for (const { field, description } of checkPromptCacheMarkers(input.messages, tooling, MARKER_FIELDS)) v.add(field, description);
  const stream = booleanField(v, 'stream', body.stream) ?? false;
  const includeUsage = streamOptions(body.stream_options, stream, v);
  const ext = isObject(body.orchestrator) ? body.orchestrator : {};
  if (body.orchestrator !== undefined && body.orchestrator !== null && !isObject(body.orchestrator))
    v.add('orchestrator', 'must be an object');
  for (const field in ext) if (!ORCHESTRATOR_FIELDS.has(field)) v.add(`orchestrator.${field}`, 'is not an orchestrator option');

  const headerProfile = header(headers, PROFILE_HEADER);
  const headerFallbacks = header(headers, FALLBACKS_HEADER);
  let strategy = enumField(v, 'orchestrator.strategy', ext.strategy, STRATEGIES);
  let others = stringList(v, 'orchestrator.models', ext.models, limits.maxModelsPerCall);
  if (headerFallbacks !== undefined) {
    if (others.length > 0 || (strategy !== undefined && strategy !== 'fallback')) {
      v.add(FALLBACKS_HEADER, 'give the chain either in this header or in orchestrator.strategy/models, not both');
    }
    strategy = 'fallback';
    others = headerFallbacks
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (others.length > limits.maxModelsPerCall) v.add(FALLBACKS_HEADER, `at most ${limits.maxModelsPerCall} models per call`);
    const problem = others.map(modelNameProblem).find((p) => p !== undefined);
    if (problem !== undefined) v.add(FALLBACKS_HEADER, `each model ${problem}`);
  }
  const route = routeOf(v, model, ext.route, headerProfile, limits);
  if (route && (strategy === 'race' || others.length > 0)) {
    v.add('orchestrator.route', 'a routed request takes its chain from the ranking: no strategy race, no models');
  }
  const finalStrategy = route ? 'fallback' : (strategy ?? 'single');
  if (finalStrategy === 'single' && others.length > 0) v.add('orchestrator.models', 'only with strategy "fallback" or "race"');
  const hedgeDelayMs = integerIn(v, 'orchestrator.hedge_delay_ms', ext.hedge_delay_ms, 0);
  if (hedgeDelayMs !== undefined && finalStrategy !== 'race') v.add('orchestrator.hedge_delay_ms', 'only with strategy "race"');
  const restartOnFailure = booleanField(v, 'orchestrator.restart_on_failure', ext.restart_on_failure) ?? false;
  if (restartOnFailure && (!stream || finalStrategy !== 'fallback')) {
    v.add('orchestrator.restart_on_failure', 'only for a streamed fallback chain or route: the next model restarts the answer');
  }
  const defaultMessage = stringField(v, 'orchestrator.default_message', ext.default_message);
  for (const { field, description } of checkDefaultMessage(defaultMessage, 'orchestrator.default_message', limits.maxContentChars))
    v.add(field, description);
  const disableDefaultMessage = booleanField(v, 'orchestrator.disable_default_message', ext.disable_default_message) ?? false;
  if ((defaultMessage !== undefined || disableDefaultMessage) && (finalStrategy !== 'fallback' || route || stream)) {
    v.add('orchestrator.default_message', 'only with strategy "fallback" on a non-streamed request');
  }
  // `model` comes first; naming it again in the list is no duplicate. Each keeps the field it was sent in.
  const chained = others
    .map((name, i) => ({ name, field: headerFallbacks !== undefined ? FALLBACKS_HEADER : `orchestrator.models[${i}]` }))
    .filter((ref) => ref.name.toLowerCase() !== model.toLowerCase());
  // The cap counts every model called, `model` too (gRPC's list holds them all).
  if (chained.length + 1 > limits.maxModelsPerCall && others.length <= limits.maxModelsPerCall) {
    const field = headerFallbacks !== undefined ? FALLBACKS_HEADER : 'orchestrator.models';
    v.add(field, `at most ${limits.maxModelsPerCall} models per call, model included (got ${chained.length + 1})`);
  }
  const attemptTimeoutMs = integerIn(v, 'orchestrator.attempt_timeout_ms', ext.attempt_timeout_ms, 1);
  const firstTokenTimeoutMs = integerIn(v, 'orchestrator.first_token_timeout_ms', ext.first_token_timeout_ms, 1);
  const interTokenTimeoutMs = integerIn(v, 'orchestrator.inter_token_timeout_ms', ext.inter_token_timeout_ms, 1);
  // As gRPC: attempt_timeout_ms is Fallback's per-model budget, the token timeouts StreamChat's;
  // elsewhere nothing would apply them, so they are refused rather than ignored.
  if (attemptTimeoutMs !== undefined && (finalStrategy !== 'fallback' || route || stream)) {
    v.add('orchestrator.attempt_timeout_ms', 'only with strategy "fallback" on a non-streamed request');
  }
  if (!stream) {
    if (firstTokenTimeoutMs !== undefined) v.add('orchestrator.first_token_timeout_ms', 'only with stream: true');
    if (interTokenTimeoutMs !== undefined) v.add('orchestrator.inter_token_timeout_ms', 'only with stream: true');
  }
  const cache = cachePolicy(v, ext.cache);
  // Only a unary single-model call reads the cache (gRPC's Chat with a model); a stream, a race, a
  // fallback chain or a route never does (its model is known only once ranked), so asking them to
  // use it, or to serve a stale answer, is refused rather than ignored; "auto" and "bypass" already hold there.
  if (stream || finalStrategy !== 'single' || route) {
    if (cache.mode === 'use') v.add('orchestrator.cache.mode', 'use: only for a non-streamed single-model request');
    if (cache.allowStale) v.add('orchestrator.cache.allow_stale', 'only for a non-streamed single-model request');
  }
  v.check();
  return {
    input,
    model: { name: route ? '' : model, field: 'model' },
    stream,
    includeUsage,
    spelling,
    strategy: finalStrategy,
    models: others.length > 0 ? [{ name: model, field: 'model' }, ...chained] : [],
    hedgeDelayMs,
    route,
    defaultMessage,
    disableDefaultMessage,
    restartOnFailure,
    attemptTimeoutMs,
    firstTokenTimeoutMs,
    interTokenTimeoutMs,
    cache,
    tags,
  };
}

function maxTokens(body: Json, v: Violations): number | undefined {
  const a = integerIn(v, 'max_tokens', body.max_tokens, 1);
  const b = integerIn(v, 'max_completion_tokens', body.max_completion_tokens, 1);
  if (a !== undefined && b !== undefined && a !== b) v.add('max_completion_tokens', 'differs from max_tokens: send one of them');
  return b ?? a;
}

/**
 * The engine and the providers name the fields as gRPC does (`max_tokens`, `stop` a list): a
 * refusal of this request names them as the request spelled them.
 */
export function inRequestFields(err: unknown, req: ChatCompletionRequest): unknown {
  if (!isOrchestratorError(err) || err.reason !== Reason.INVALID_REQUEST) return err;
  const violations = err.fieldViolations;
  const fields = violations.map((v) => sentField(v.field, req.spelling));
  if (fields.every((f, i) => f === httpField(violations[i]!.field))) return err;
  return invalidArgument(violations.map((v, i) => ({ field: fields[i]!, description: v.description })));
}

function streamOptions(raw: unknown, stream: boolean, v: Violations): boolean {
  if (raw === undefined || raw === null) return false;
  if (!isObject(raw)) {
    v.add('stream_options', 'must be an object');
    return false;
  }
  if (!stream) v.add('stream_options', 'only with stream: true');
  // The gateway never obfuscates a stream, so asking for none is what it does; a null is absent.
  for (const field of Object.keys(raw)) {
    const value = raw[field];
    if (field === 'include_usage' || value === null || (field === 'include_obfuscation' && value === false)) continue;
    v.add(`stream_options.${field}`, 'is not supported by this gateway yet');
  }
  return booleanField(v, 'stream_options.include_usage', raw.include_usage) ?? false;
}

function routeBody(v: Violations, raw: unknown): Record<string, unknown> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (isObject(raw)) return raw;
  v.add('orchestrator.route', 'must be an object: { "profile": "speed" }');
  return undefined;
}

function routeOf(
  v: Violations,
  model: string,
  raw: unknown,
  headerProfile: string | undefined,
  limits: ChatLimits,
): RouteRequest | undefined {
  const fromModel = model.toLowerCase().startsWith(ROUTE_PREFIX) ? model.slice(ROUTE_PREFIX.length).trim() : undefined;
  const body = routeBody(v, raw);
  if (fromModel === undefined && headerProfile === undefined && body === undefined) return undefined;
  // A null profile counts as absent; names match as the profile itself is read (any case, spaces around).
  const sources = [fromModel, headerProfile, body?.profile ?? undefined].filter((p) => p !== undefined);
  if (sources.length === 0 && body === undefined) return undefined;
  const same = (p: unknown): unknown => (typeof p === 'string' ? profileSpelling(p) : p);
  const given = same(sources[0] ?? 'balanced');
  if (sources.some((p) => same(p) !== given))
    v.add('orchestrator.route.profile', 'the model field, the header and the body name different profiles');
  const profile = enumField(
    v,
    fromModel !== undefined ? 'model' : headerProfile !== undefined ? PROFILE_HEADER : 'orchestrator.route.profile',
    given,
    ROUTING_PROFILES,
  );
  if (body)
    for (const field of Object.keys(body))
      if (field !== 'profile' && field !== 'candidates') v.add(`orchestrator.route.${field}`, 'is not a route option');
  const candidates = stringList(v, 'orchestrator.route.candidates', body?.candidates, limits.maxModelsPerCall);
  return {
    profile: profile ?? 'balanced',
    candidates: candidates.map((name, i) => ({ name, field: `orchestrator.route.candidates[${i}]` })),
  };
}

function cachePolicy(v: Violations, raw: unknown): CachePolicy {
  if (raw === undefined || raw === null) return { mode: 'auto', allowStale: false };
  if (!isObject(raw)) {
    v.add('orchestrator.cache', 'must be an object: { "mode": "use", "allow_stale": true, "refuse_stale": false }');
    return { mode: 'auto', allowStale: false };
  }
  for (const field of Object.keys(raw)) if (!CACHE_FIELDS.has(field)) v.add(`orchestrator.cache.${field}`, 'is not a cache option');
  return {
    mode: enumField(v, 'orchestrator.cache.mode', raw.mode, CACHE_MODES) ?? 'auto',
    allowStale: booleanField(v, 'orchestrator.cache.allow_stale', raw.allow_stale) ?? false,
    refuseStale: booleanField(v, 'orchestrator.cache.refuse_stale', raw.refuse_stale) ?? false,
  };
}

const CACHE_FIELDS: ReadonlySet<string> = new Set(['mode', 'allow_stale', 'refuse_stale']);
