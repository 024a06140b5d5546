import { acceptsSampling } from '../providers/anthropic/versions.js';
import { parseStop, type SimChatRequest, type SimTool } from './chat-request.js';
import { breakpointsOf, type CacheBreakpoint, toolTokensOf } from './prompt-cache.js';
import type { SimMessage } from './text.js';

const SAMPLING_PARAMS = ['temperature', 'top_p', 'top_k'] as const;

type Tooling = Pick<SimChatRequest, 'tools' | 'toolChoice' | 'parallelToolCalls' | 'responseFormat'>;

/**
 * The parts of an Anthropic Messages API request that the simulator acts on; tools, tool_choice
 * and output_config.format in the OpenAI endpoint's terms, so both answer them alike.
 */
export interface SimMessagesRequest extends Tooling {
  readonly model: string;
  /**
   * The conversation as the text generator sees it: the top-level `system` prompt (when
   * set) as a leading system message, then every message's text; a user turn's tool_result
   * blocks come first, each as a `tool` message.
   */
  readonly messages: readonly SimMessage[];
  readonly stream: boolean;
  /** Required by the API; 0 is allowed (an empty answer that stops at max_tokens). */
  readonly maxTokens: number;
  /** stop_sequences: the answer ends before the first of these it would contain. */
  readonly stop?: readonly string[] | undefined;
  /** The prefixes its `cache_control` markers ask to cache, in order; empty when it has none. */
  readonly breakpoints: readonly CacheBreakpoint[];
  /** What its tool definitions add to the prompt's tokens, before the system prompt. */
  readonly toolTokens: number;
}

export type MessagesRequestParse =
  | { readonly ok: true; readonly request: SimMessagesRequest }
  | { readonly ok: false; readonly message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text of string content or of the text blocks of array content; undefined when neither. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  let text = '';
  for (const block of content) {
    if (isRecord(block) && block['type'] === 'text' && typeof block['text'] === 'string') text += block['text'];
  }
  return text;
}

function fail(message: string): MessagesRequestParse {
  return { ok: false, message };
}

/** Sampling parameters as the given API version accepts them (messages worded like the API's). */
function checkSampling(body: Record<string, unknown>, version: string): string | undefined {
  for (const key of SAMPLING_PARAMS) {
    const value = body[key];
    if (value === undefined) continue;
    if (!acceptsSampling(version)) return `${key}: Extra inputs are not permitted`;
    if (key === 'temperature' && (typeof value !== 'number' || value < 0 || value > 1)) {
      return 'temperature: range: 0..1';
    }
  }
  return undefined;
}

/** Validates a POST /v1/messages body sent with the given `anthropic-version`. */
export function parseMessagesRequest(body: unknown, version: string): MessagesRequestParse {
  if (!isRecord(body)) return fail('The request body must be a JSON object.');
  const model = body['model'];
  if (typeof model !== 'string' || model.length === 0) return fail('model: Field required');
  const maxTokens = body['max_tokens'];
  if (maxTokens === undefined) return fail('max_tokens: Field required');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0) {
    return fail('max_tokens: Input should be a valid integer of at least 0');
  }
  const rawMessages = body['messages'];
  if (!Array.isArray(rawMessages) || rawMessages.length === 0) {
    return fail('messages: at least one message is required');
  }
  const messages: SimMessage[] = [];
  const system = body['system'];
  if (system !== undefined) {
    const text = contentText(system);
    if (text === undefined) return fail('system: Input should be a valid string or a list of text blocks');
    messages.push({ role: 'system', content: text });
  }
  for (const [index, raw] of rawMessages.entries()) {
    const role = isRecord(raw) ? raw['role'] : undefined;
    if (role !== 'user' && role !== 'assistant' && role !== 'system') {
      return fail(`messages.${index}.role: Input should be 'user', 'assistant' or 'system'`);
    }
    const content = isRecord(raw) ? raw['content'] : undefined;
    const text = contentText(content);
    if (text === undefined) return fail(`messages.${index}.content: Field required`);
    const results = Array.isArray(content)
      ? content.filter((b): b is Record<string, unknown> => isRecord(b) && b['type'] === 'tool_result')
      : [];
    for (const result of results) messages.push({ role: 'tool', content: contentText(result['content']) ?? '' });
    if (results.length === 0 || text !== '') messages.push({ role, content: text });
  }
  const tooling = parseTooling(body);
  if (typeof tooling === 'string') return fail(tooling);
  const sampling = checkSampling(body, version);
  if (sampling !== undefined) return fail(sampling);
  const stop = parseStop(body['stop_sequences']);
  if (stop === false || typeof body['stop_sequences'] === 'string')
    return fail('stop_sequences: Input should be a valid list of non-empty strings');
  return {
    ok: true,
    request: {
      model,
      messages,
      stream: body['stream'] === true,
      maxTokens,
      ...(stop ? { stop } : {}),
      ...tooling,
      breakpoints: breakpointsOf(body, model),
      toolTokens: toolTokensOf(body['tools']),
    },
  };
}

/** tools, tool_choice and output_config.format as the Messages API takes them; a message naming the bad one. */
function parseTooling(body: Record<string, unknown>): Tooling | string {
  const out: { -readonly [K in keyof Tooling]: Tooling[K] } = {};
  const tools = body['tools'];
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return 'tools: Input should be a valid list';
    const parsed: SimTool[] = [];
    for (const [i, tool] of tools.entries()) {
      if (!isRecord(tool) || typeof tool['name'] !== 'string' || tool['name'] === '') return `tools.${i}.name: Field required`;
      if (!isRecord(tool['input_schema'])) return `tools.${i}.input_schema: Field required`;
      parsed.push({ name: tool['name'], parameters: tool['input_schema'] });
    }
    out.tools = parsed;
  }
  const choice = body['tool_choice'];
  if (choice !== undefined) {
    if (!isRecord(choice)) return 'tool_choice: Input should be a valid dictionary';
    const type = choice['type'];
    if (type === 'auto' || type === 'none') out.toolChoice = type;
    else if (type === 'any') out.toolChoice = 'required';
    else if (type === 'tool' && typeof choice['name'] === 'string') out.toolChoice = { name: choice['name'] };
    else return "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'";
    // The API refuses a choice with nothing to choose from, or naming a tool it was not given.
    if (!out.tools?.length) return `tool_choice.${type} may only be specified while providing tools`;
    const { toolChoice } = out;
    if (typeof toolChoice === 'object' && !out.tools.some((tool) => tool.name === toolChoice.name)) {
      return `Tool '${toolChoice.name}' not found in provided tools`;
    }
    if (choice['disable_parallel_tool_use'] === true) out.parallelToolCalls = false;
  }
  const config = body['output_config'];
  if (config !== undefined) {
    const format = isRecord(config) ? config['format'] : undefined;
    if (format !== undefined) {
      if (!isRecord(format) || format['type'] !== 'json_schema' || !isRecord(format['schema'])) {
        return 'output_config.format: Input should be a json_schema format with a schema';
      }
      out.responseFormat = { type: 'json_schema', schema: format['schema'] };
    }
  }
  return out;
}
