import type { FieldViolation } from './errors.js';
import type { PromptCache } from './prompt-cache.js';

/** Tools, structured output and content parts: the provider-neutral shapes both doors fill. */

/** A JSON value as it travels in a tool's parameters or an answer's schema. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A call the model asked for; `arguments` is the JSON text exactly as the model wrote it. */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

/**
 * What a tool call (or a streamed piece of one) adds to the text a model generated: its name and
 * arguments, which upstreams bill as completion tokens like the answer's text.
 */
export function toolCallChars(call: { readonly name?: string | undefined; readonly arguments: string }): number {
  return (call.name?.length ?? 0) + call.arguments.length;
}

/** A piece of a streamed tool call: the first piece of a call has its id and name. */
export interface ToolCallDelta {
  readonly index: number;
  readonly id?: string | undefined;
  readonly name?: string | undefined;
  readonly arguments: string;
}

export interface ToolDefinition {
  readonly name: string;
  readonly description?: string | undefined;
  /** A JSON Schema object; undefined: the function takes no arguments. */
  readonly parameters?: JsonObject | undefined;
  /** OpenAI's strict argument adherence. */
  readonly strict?: boolean | undefined;
  /** A prompt cache breakpoint after this definition (Anthropic sends tools before the system prompt). */
  readonly cache?: PromptCache | undefined;
}

export type ToolChoice =
  | { readonly type: 'auto' }
  | { readonly type: 'none' }
  | { readonly type: 'required' }
  | { readonly type: 'function'; readonly name: string };

export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_object' }
  | {
      readonly type: 'json_schema';
      readonly name: string;
      readonly description?: string | undefined;
      readonly schema: JsonObject;
      readonly strict?: boolean | undefined;
    };

/** What a request offers beyond the conversation: tools and the answer's format. Unset fields: the provider's defaults. */
export interface Tooling {
  readonly tools?: readonly ToolDefinition[] | undefined;
  readonly toolChoice?: ToolChoice | undefined;
  readonly parallelToolCalls?: boolean | undefined;
  readonly responseFormat?: ResponseFormat | undefined;
}

/** An image as bytes, with their media type. */
export interface ImageBytes {
  readonly data: Uint8Array;
  readonly mediaType: string;
}

/**
 * By URL, or as bytes. A base64 data: URL is decoded once, by the door that reads the request:
 * the HTTP API passes on its bytes, the gRPC door keeps the URL as given with its image as
 * `inline` (imageOfUrl). Validation and the providers that send bytes read those, never the URL
 * again: decoding an image as large as the request costs as much the second time.
 */
export type ImageSource = { readonly url: string; readonly inline?: ImageBytes | undefined } | ImageBytes;

/** `cache`: a prompt cache breakpoint after this part. */
export type ContentPart =
  | { readonly type: 'text'; readonly text: string; readonly cache?: PromptCache | undefined }
  | {
      readonly type: 'image';
      readonly image: ImageSource;
      readonly detail?: 'auto' | 'low' | 'high' | undefined;
      readonly cache?: PromptCache | undefined;
    };

/** What a request uses that not every model takes (the catalog's ModelCapabilities). */
export interface RequiredCapabilities {
  readonly tools: boolean;
  readonly images: boolean;
  readonly jsonSchema: boolean;
}

/**
 * maxSchemaDepth: objects and arrays nested in a tool's parameters or a response schema. Real
 * schemas nest a few levels; a deeper one is a mistake or an attack, and a schema is walked
 * recursively later (the token estimate, the providers' encoders), where 10,000 levels overflow
 * the stack.
 */
export const TOOL_LIMITS = { maxTools: 128, maxNameChars: 64, maxSchemaDepth: 64 } as const;

export const IMAGE_MEDIA_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether a name is one the providers take for a function or a schema (1 to 64 of letters, digits, _ and -). */
export function isToolName(name: string): boolean {
  return NAME.test(name);
}

/**
 * Checks tool definitions, the choice and the format against each other: names valid and
 * distinct, a chosen function defined, parallel_tool_calls only with tools, a JSON Schema
 * format named and given a schema. `at` spells a field as the caller's door does.
 */
export function checkTooling(tooling: Tooling, at: (name: string) => string): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string): void => {
    violations.push({ field, description });
  };
  const tools = tooling.tools ?? [];
  if (tools.length > TOOL_LIMITS.maxTools) add(at('tools'), `at most ${TOOL_LIMITS.maxTools} tools (got ${tools.length})`);
  const seen = new Set<string>();
  tools.forEach((tool, i) => {
    if (tool.name === '') add(`${at('tools')}[${i}].name`, 'must not be empty');
    else if (!isToolName(tool.name)) add(`${at('tools')}[${i}].name`, 'must be 1 to 64 letters, digits, underscores or dashes');
    else if (seen.has(tool.name)) add(`${at('tools')}[${i}].name`, `"${tool.name}" is defined twice`);
    seen.add(tool.name);
    if (tool.parameters !== undefined && tool.parameters.type !== undefined && tool.parameters.type !== 'object') {
      add(`${at('tools')}[${i}].parameters`, 'must be a JSON Schema of type "object"');
    }
    if (tool.parameters !== undefined && deeperThan(tool.parameters, TOOL_LIMITS.maxSchemaDepth)) {
      add(`${at('tools')}[${i}].parameters`, `must nest at most ${TOOL_LIMITS.maxSchemaDepth} levels of objects and arrays`);
    }
  });
  const choice = tooling.toolChoice;
  if (choice && choice.type !== 'auto' && choice.type !== 'none' && tools.length === 0) {
    add(at('tool_choice'), 'needs tools: the request defines none');
  } else if (choice?.type === 'function' && !seen.has(choice.name)) {
    add(at('tool_choice'), `names function "${choice.name}", which the request's tools do not define`);
  }
  if (tooling.parallelToolCalls !== undefined && tools.length === 0) add(at('parallel_tool_calls'), 'only with tools');
  const format = tooling.responseFormat;
  if (format?.type === 'json_schema') {
    if (!isToolName(format.name)) add(at('response_format.json_schema.name'), 'must be 1 to 64 letters, digits, underscores or dashes');
    if (Object.keys(format.schema).length === 0) add(at('response_format.json_schema.schema'), 'must be a JSON Schema (not empty)');
    else if (format.schema.type !== undefined && format.schema.type !== 'object') {
      add(at('response_format.json_schema.schema'), 'must be a JSON Schema of type "object" (the answer is a JSON object)');
    } else if (deeperThan(format.schema, TOOL_LIMITS.maxSchemaDepth)) {
      add(at('response_format.json_schema.schema'), `must nest at most ${TOOL_LIMITS.maxSchemaDepth} levels of objects and arrays`);
    }
  }
  return violations;
}

/** Whether objects and arrays nest more than `max` levels in `value`; walked without recursion, so any depth is safe to ask about. */
export function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** The tooling fields that are set, or undefined when none is. */
export function definedTooling(tooling: Tooling): Tooling | undefined {
  const out: { -readonly [K in keyof Tooling]: Tooling[K] } = {};
  if (tooling.tools && tooling.tools.length > 0) out.tools = tooling.tools;
  if (tooling.toolChoice) out.toolChoice = tooling.toolChoice;
  if (tooling.parallelToolCalls !== undefined) out.parallelToolCalls = tooling.parallelToolCalls;
  if (tooling.responseFormat && tooling.responseFormat.type !== 'text') out.responseFormat = tooling.responseFormat;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Joins streamed tool-call pieces into calls, by index, in index order. */
export class ToolCallAssembler {
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  /**
   * Adds a piece, and returns it as it is relayed: its id and name only where they are new to
   * the call. Some upstreams (Fireworks, MiniMax on NVIDIA NIM) repeat them on every piece, and
   * clients that join the pieces (OpenAI's Python SDK) would join them too: `ff` for `f`.
   */
  add(delta: ToolCallDelta): ToolCallDelta {
    const call = this.calls.get(delta.index) ?? { id: '', name: '', arguments: '' };
    const id = delta.id && delta.id !== call.id ? delta.id : undefined;
    const name = delta.name && call.name === '' ? delta.name : undefined;
    if (id) call.id = id;
    if (name) call.name = name;
    call.arguments += delta.arguments;
    this.calls.set(delta.index, call);
    if (id === delta.id && name === delta.name) return delta;
    const relayed: { -readonly [K in keyof ToolCallDelta]: ToolCallDelta[K] } = { index: delta.index, arguments: delta.arguments };
    if (id) relayed.id = id;
    if (name) relayed.name = name;
    return relayed;
  }

  get size(): number {
    return this.calls.size;
  }

  result(): ToolCall[] {
    return [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => ({ ...call }));
  }
}
