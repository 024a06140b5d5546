import {
  isReasoningEffort,
  isReasoningModel,
  type ReasoningEffort,
  REASONING_EFFORTS,
  REASONING_ONLY_SAMPLING,
  reasoningEffortsOf,
  REFUSED_SAMPLING,
  REFUSED_STOP,
  takesReasoningEffort,
  takesSampling,
  takesStop,
} from '../domain/reasoning-models.js';
import type { SimMessage } from './text.js';

/** The parts of an OpenAI chat completion request that the simulator acts on. */
export interface SimChatRequest {
  readonly model: string;
  readonly messages: readonly SimMessage[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** max_completion_tokens, else max_tokens; undefined = no cap. */
  readonly maxTokens: number | undefined;
  /** reasoning_effort as asked (a level the model takes); unset: the model's default. */
  readonly reasoningEffort?: ReasoningEffort | undefined;
  /** The answer ends before the first of these it would contain (finish reason stop). */
  readonly stop?: readonly string[] | undefined;
  /** Function tools offered: their names and parameter schemas. */
  readonly tools?: readonly SimTool[] | undefined;
  readonly toolChoice?: 'auto' | 'none' | 'required' | { readonly name: string } | undefined;
  readonly parallelToolCalls?: boolean | undefined;
  /** A JSON answer: any object, or one that follows the schema. */
  readonly responseFormat?: { readonly type: 'json_object' } | { readonly type: 'json_schema'; readonly schema: unknown } | undefined;
}

export interface SimTool {
  readonly name: string;
  readonly parameters?: unknown;
}

export type ChatRequestParse =
  | { readonly ok: true; readonly request: SimChatRequest }
  | { readonly ok: false; readonly message: string; readonly param: string | null; readonly code?: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text of string content or of the text parts of array content; anything else is empty. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (isRecord(part) && typeof part['text'] === 'string') text += part['text'];
  }
  return text;
}

function parseMaxTokens(body: Record<string, unknown>): number | undefined | string {
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const value = body[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return key;
    return value;
  }
  return undefined;
}

function fail(message: string, param: string | null, code?: string): ChatRequestParse {
  return { ok: false, message, param, ...(code ? { code } : {}) };
}

export function parseChatRequest(body: unknown): ChatRequestParse {
  if (!isRecord(body)) return fail('The request body must be a JSON object.', null);
  const model = body['model'];
  if (typeof model !== 'string' || model.length === 0) {
    return fail("Missing required parameter: 'model'.", 'model');
  }
  const rawMessages = body['messages'];
  if (!Array.isArray(rawMessages) || rawMessages.length === 0) {
    return fail("Missing required parameter: 'messages'.", 'messages');
  }
  const messages: SimMessage[] = [];
  for (const [index, raw] of rawMessages.entries()) {
    if (!isRecord(raw) || typeof raw['role'] !== 'string') {
      return fail(`Invalid message at index ${index}: expected an object with a 'role'.`, `messages[${index}]`);
    }
    messages.push({ role: raw['role'], content: contentText(raw['content']) });
  }
  // The old name is refused by the API's reasoning models rather than read as the new one.
  if (body['max_tokens'] !== undefined && body['max_tokens'] !== null && isReasoningModel(model)) {
    const message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.";
    return fail(message, 'max_tokens', 'unsupported_parameter');
  }
  const maxTokens = parseMaxTokens(body);
  if (typeof maxTokens === 'string') {
    return fail(`Invalid '${maxTokens}': expected an integer of at least 1.`, maxTokens);
  }
  // The API answers n choices; one choice where n were asked would pass for an answer, so n is refused.
  const n = body['n'];
  if (n !== undefined && n !== null && n !== 1) {
    return fail(`Invalid 'n': the simulator answers one choice only (n 1), got ${JSON.stringify(n)}.`, 'n');
  }
  // OpenAI's reasoning models run at their own temperature and refuse any other, and top_p and the
  // penalties; the later GPT-5 versions do so while they reason (reasoning_effort above none).
  const temperature = body['temperature'];
  const effort = body[REASONING_ONLY_SAMPLING.reasoningEffort];
  const samples = takesSampling(model, isReasoningEffort(effort) ? effort : undefined);
  if (typeof temperature === 'number' && temperature !== 1 && !samples) {
    const message = `Unsupported value: 'temperature' does not support ${temperature} with this model. Only the default (1) value is supported.`;
    return fail(message, 'temperature', 'unsupported_value');
  }
  const isSet = (name: string): boolean => body[name] !== undefined && body[name] !== null;
  // o3, o4-mini and every GPT-5 model refuse stop too, at any reasoning effort.
  const refused =
    (samples ? undefined : Object.values(REFUSED_SAMPLING).find(isSet)) ??
    (takesStop(model) ? undefined : Object.values(REFUSED_STOP).find(isSet));
  if (refused !== undefined) {
    return fail(`Unsupported parameter: '${refused}' is not supported with this model.`, refused, 'unsupported_parameter');
  }
  const reasoningRefusal = reasoningProblem(body, model);
  if (reasoningRefusal !== undefined) return reasoningRefusal;
  const stop = parseStop(body['stop']);
  if (stop === false) return fail("Invalid 'stop': expected a string or an array of at most 4 strings.", 'stop');
  const tooling = parseTooling(body);
  if (typeof tooling === 'string') return fail(`Invalid '${tooling}'.`, tooling);
  const toolingRefusal = toolingProblem(tooling);
  if (toolingRefusal !== undefined) return toolingRefusal;
  // The API's own guard against a model told to write JSON it was never asked for in words.
  if (tooling.responseFormat?.type === 'json_object' && !messages.some((m) => /json/i.test(m.content))) {
    return fail("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", 'messages');
  }
  const stream = body['stream'] === true;
  const streamOptions = body['stream_options'];
  if (streamOptions !== undefined && streamOptions !== null && !stream) {
    return fail("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
  }
  return {
    ok: true,
    request: {
      model,
      messages,
      stream,
      includeUsage: isRecord(streamOptions) && streamOptions['include_usage'] === true,
      maxTokens,
      ...(isReasoningEffort(effort) ? { reasoningEffort: effort } : {}),
      ...(stop ? { stop } : {}),
      ...tooling,
    },
  };
}

/**
 * The API's refusals of reasoning_effort: by any model but a reasoning one, at a level it does not
 * define, and at a level the model does not take.
 */
function reasoningProblem(body: Record<string, unknown>, model: string): ChatRequestParse | undefined {
  const param = REASONING_ONLY_SAMPLING.reasoningEffort;
  const effort = body[param];
  if (effort === undefined || effort === null) return undefined;
  if (!takesReasoningEffort(model))
    return fail(`Unsupported parameter: '${param}' is not supported with this model.`, param, 'unsupported_parameter');
  if (!isReasoningEffort(effort)) {
    const given = typeof effort === 'string' ? `'${effort}'` : JSON.stringify(effort);
    return fail(`Invalid value: ${given}. Supported values are: ${quotedList(REASONING_EFFORTS)}.`, param, 'invalid_value');
  }
  if (takesReasoningEffort(model, effort)) return undefined;
  const message = `Unsupported value: '${effort}' is not supported with the '${model}' model. Supported values are: ${quotedList(reasoningEffortsOf(model))}.`;
  return fail(message, param, 'unsupported_value');
}

/** 'a', 'b', and 'c', as the API lists values. */
function quotedList(values: readonly string[]): string {
  const quoted = values.map((value) => `'${value}'`);
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}`;
}

type Tooling = Pick<SimChatRequest, 'tools' | 'toolChoice' | 'parallelToolCalls' | 'responseFormat'>;

/** tools, tool_choice, parallel_tool_calls and response_format as OpenAI takes them; the name of a malformed one. */
function parseTooling(body: Record<string, unknown>): Tooling | string {
  const out: { -readonly [K in keyof Tooling]: Tooling[K] } = {};
  // null is unset, as the API takes it (pydantic and LangChain send unset fields so).
  const field = (key: string): unknown => body[key] ?? undefined;
  const tools = field('tools');
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return 'tools';
    const parsed: SimTool[] = [];
    for (const tool of tools) {
      const fn = isRecord(tool) && tool['type'] === 'function' ? tool['function'] : undefined;
      if (!isRecord(fn) || typeof fn['name'] !== 'string' || fn['name'] === '') return 'tools';
      parsed.push({ name: fn['name'], ...(fn['parameters'] !== undefined ? { parameters: fn['parameters'] } : {}) });
    }
    out.tools = parsed;
  }
  const choice = field('tool_choice');
  if (choice === 'auto' || choice === 'none' || choice === 'required') out.toolChoice = choice;
  else if (isRecord(choice)) {
    const fn = choice['function'];
    if (!isRecord(fn) || typeof fn['name'] !== 'string') return 'tool_choice';
    out.toolChoice = { name: fn['name'] };
  } else if (choice !== undefined) return 'tool_choice';
  const parallel = field('parallel_tool_calls');
  if (typeof parallel === 'boolean') out.parallelToolCalls = parallel;
  else if (parallel !== undefined) return 'parallel_tool_calls';
  const format = field('response_format');
  if (isRecord(format)) {
    if (format['type'] === 'json_object') out.responseFormat = { type: 'json_object' };
    else if (format['type'] === 'json_schema') {
      const spec = format['json_schema'];
      if (!isRecord(spec) || !isRecord(spec['schema'])) return 'response_format.json_schema';
      out.responseFormat = { type: 'json_schema', schema: spec['schema'] };
    } else if (format['type'] !== 'text') return 'response_format.type';
  } else if (format !== undefined) return 'response_format';
  return out;
}

/**
 * The API's refusals of an empty tools array, of tool_choice or parallel_tool_calls with no tools,
 * and of a tool_choice naming a function not among them.
 */
function toolingProblem({ tools, toolChoice, parallelToolCalls }: Tooling): ChatRequestParse | undefined {
  if (tools?.length === 0) {
    return fail(
      "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'tools',
      'empty_array',
    );
  }
  for (const [param, value] of [
    ['tool_choice', toolChoice],
    ['parallel_tool_calls', parallelToolCalls],
  ] as const) {
    if (value !== undefined && tools === undefined) {
      return fail(`Invalid value for '${param}': '${param}' is only allowed when 'tools' are specified.`, param);
    }
  }
  if (typeof toolChoice === 'object' && !tools?.some((tool) => tool.name === toolChoice.name)) {
    return fail(`Invalid value for 'tool_choice': function '${toolChoice.name}' is not among 'tools'.`, 'tool_choice');
  }
  return undefined;
}

/** OpenAI's `stop`: a string or up to 4 strings; false when malformed. */
export function parseStop(value: unknown): readonly string[] | undefined | false {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length > 4 || !list.every((s): s is string => typeof s === 'string' && s.length > 0)) return false;
  return list.length > 0 ? list : undefined;
}
