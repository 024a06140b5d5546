import type {
  CacheControlEphemeral,
  ContentBlock,
  ContentBlockParam,
  ImageBlockParam,
  MessageParam,
  OutputConfig,
  TextBlockParam,
  Tool,
  ToolChoice as AnthropicToolChoice,
} from '@anthropic-ai/sdk/resources/messages';
import type { ChatMessage } from '../../domain/chat.js';
import type { PromptCache } from '../../domain/prompt-cache.js';
import { invalidArgument, type FieldViolation } from '../../domain/errors.js';
import type { ContentPart, JsonObject, ToolCall, Tooling } from '../../domain/tools.js';
import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';
import { withIdDigest } from '../tool-call-ids.js';
import { extend } from '../../domain/extend.js';

/** Our conversation as the Messages API wants it. */
export interface AnthropicConversation {
  /**
   * Every system (and developer) message, in order, joined by blank lines; undefined when there
   * is none. Blocks, the same text, when one of them carries a prompt cache marker.
   */
  readonly system: string | TextBlockParam[] | undefined;
  readonly messages: MessageParam[];
}

/**
 * Maps our messages to the Messages API, which takes the system prompt as a top-level
 * parameter and wants user and assistant turns to alternate:
 * - every system or developer message, wherever it stands, goes to `system` (in order, blank-line joined);
 * - a tool message is a user turn's tool_result block; an assistant's tool calls are tool_use
 *   blocks after its text; image parts are image blocks;
 * - consecutive user (or assistant) messages are merged into one turn: blank-line joined text
 *   when the turn is only text, its blocks in order otherwise (what the API does with
 *   consecutive same-role turns), a user turn's tool_result blocks first;
 * - a last assistant turn (a prefill) goes without trailing whitespace;
 * - nothing is invented: a conversation that starts with an assistant turn (or has no user
 *   turn) is sent as it is, and if the model refuses it, the upstream 400 comes back as
 *   INVALID_ARGUMENT / UPSTREAM_REJECTED_REQUEST;
 * - a prompt cache marker is the `cache_control` of its part's block, or of its message's last
 *   block; a turn or a system prompt with one stays blocks, since a joined text has no place for it.
 */
export function toAnthropicConversation(messages: readonly ChatMessage[], provider = 'anthropic'): AnthropicConversation {
  const system: ChatMessage[] = [];
  const turns: { role: 'user' | 'assistant'; blocks: ContentBlockParam[] }[] = [];
  const violations: FieldViolation[] = [];
  for (const [index, message] of messages.entries()) {
    if (message.role === 'system' || message.role === 'developer') {
      system.push(message);
      continue;
    }
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const blocks = blocksOf(message, index, provider, violations);
    const last = turns.at(-1);
    // One by one: spread into push's arguments, a turn of a few hundred thousand blocks overflows the stack.
    if (last?.role === role) for (const block of blocks) last.blocks.push(block);
    else turns.push({ role, blocks });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  const last = turns.at(-1);
  if (last?.role === 'assistant') trimPrefill(last.blocks);
  return {
    system: systemPrompt(system),
    messages: turns.map((turn): MessageParam => {
      const texts = turn.blocks.every((b) => b.type === 'text' && !b.cache_control)
        ? turn.blocks.map((b) => (b.type === 'text' ? b.text : ''))
        : undefined;
      return { role: turn.role, content: texts ? texts.join('\n\n') : turn.role === 'user' ? resultsFirst(turn.blocks) : turn.blocks };
    }),
  };
}

/** The system messages blank-line joined; as text blocks reading the same when one carries a marker. */
function systemPrompt(messages: readonly ChatMessage[]): AnthropicConversation['system'] {
  if (messages.length === 0) return undefined;
  if (!messages.some((m) => m.cache || m.parts?.some((p) => p.cache))) return messages.map((m) => m.content).join('\n\n');
  return messages.flatMap((m, i) => {
    const parts = m.parts?.filter((p) => p.type === 'text') ?? [{ type: 'text', text: m.content }];
    const blocks = parts.map((p, j): TextBlockParam => {
      const text = i > 0 && j === 0 ? `\n\n${p.text}` : p.text;
      return { type: 'text', text, ...cacheControl(p.cache) };
    });
    const last = blocks.at(-1);
    if (last && m.cache) last.cache_control = cacheControl(m.cache).cache_control;
    return blocks;
  });
}

/** A marker as the API spells it; five minutes is its default, so only an hour is said. */
export function cacheControl(cache: PromptCache | undefined): { cache_control?: CacheControlEphemeral } {
  if (!cache) return {};
  return { cache_control: cache.ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' } };
}

/**
 * The API answers 400 to a last assistant turn (a prefill the answer continues) that ends in
 * whitespace; the model writes that whitespace itself when it is due.
 */
function trimPrefill(blocks: ContentBlockParam[]): void {
  const block = blocks.at(-1);
  if (block?.type !== 'text') return;
  block.text = block.text.trimEnd();
  // An empty text block is refused too; the turn left with none is an empty prefill, which the API takes.
  if (block.text === '' && blocks.length > 1) blocks.pop();
}

/**
 * The API answers 400 to a turn after tool calls that does not begin with their tool_result
 * blocks: a user message sent between a call and its result goes after the results.
 */
function resultsFirst(blocks: ContentBlockParam[]): ContentBlockParam[] {
  const results = blocks.filter((b) => b.type === 'tool_result');
  return results.length === 0 || results.length === blocks.length
    ? blocks
    : [...results, ...blocks.filter((b) => b.type !== 'tool_result')];
}

function blocksOf(message: ChatMessage, index: number, provider: string, violations: FieldViolation[]): ContentBlockParam[] {
  // An empty result goes without content: Anthropic refuses text that is empty or only whitespace.
  // Its parts go as text blocks only when one carries a marker, which joined text has no place for.
  if (message.role === 'tool') {
    const parts = message.parts?.some((p) => p.cache) ? message.parts : undefined;
    const content = parts ? parts.map(partOf) : message.content;
    return [
      {
        type: 'tool_result',
        tool_use_id: toolUseId(message.toolCallId ?? ''),
        ...(parts || message.content.trim() !== '' ? { content } : {}),
        ...cacheControl(message.cache),
      },
    ];
  }
  const blocks: ContentBlockParam[] = message.parts
    ? message.parts.map(partOf)
    : message.content !== '' || !message.toolCalls
      ? [{ type: 'text', text: message.content }]
      : [];
  for (const [i, call] of (message.toolCalls ?? []).entries()) {
    const input = argumentsObject(call);
    if (input === undefined) {
      violations.push({
        field: `messages[${index}].tool_calls[${i}].arguments`,
        description: `provider ${provider} takes tool call arguments only as a JSON object`,
      });
      continue;
    }
    blocks.push({ type: 'tool_use', id: toolUseId(call.id), name: call.name, input });
  }
  const last = blocks.at(-1);
  if (last && message.cache) Object.assign(last, cacheControl(message.cache));
  return blocks;
}

const TOOL_USE_ID = /^[a-zA-Z0-9_-]+$/;

/**
 * The Messages API refuses a tool_use id of other characters than letters, digits, _ and -,
 * which other servers' ids have (Kimi's `functions.get_weather:0`) in a conversation begun
 * elsewhere. Such an id, those characters replaced by _, is rewritten the same way for the call
 * and its result.
 */
function toolUseId(id: string): string {
  if (TOOL_USE_ID.test(id)) return id;
  return withIdDigest(id.replace(/[^a-zA-Z0-9_-]/g, '_'), id);
}

function argumentsObject(call: ToolCall): Record<string, unknown> | undefined {
  if (call.arguments.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(call.arguments);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function partOf(part: ContentPart): TextBlockParam | ImageBlockParam {
  if (part.type === 'text') return { type: 'text', text: part.text, ...cacheControl(part.cache) };
  // The Messages API fetches a url source; an image inside a data: URL goes as its bytes.
  const image = ('url' in part.image ? part.image.inline : undefined) ?? part.image;
  const source: ImageBlockParam['source'] =
    'url' in image
      ? { type: 'url', url: image.url }
      : {
          type: 'base64',
          media_type: mediaTypeOf(image.data) ?? (image.mediaType as ImageMediaType),
          data: Buffer.from(image.data).toString('base64'),
        };
  return { type: 'image', source, ...cacheControl(part.cache) };
}

type ImageMediaType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

/**
 * The type the bytes are, read from their signature. The API answers 400 to an image whose
 * media type is not what its bytes are, and clients label images by file name or habit (a
 * screenshot always image/png): the bytes decide. Undefined for bytes of none of the four.
 */
function mediaTypeOf(data: Uint8Array): ImageMediaType | undefined {
  const at = (offset: number, ...bytes: number[]): boolean => bytes.every((b, i) => data[offset + i] === b);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  // RIFF....WEBP
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'image/webp';
  return undefined;
}

/** The Messages API body fields tools and the answer's format fill. */
export interface ToolingBody {
  tools?: Tool[];
  tool_choice?: AnthropicToolChoice;
  output_config?: OutputConfig;
}

/**
 * tools (input_schema), tool_choice (auto, any, tool, none; parallel off is
 * disable_parallel_tool_use) and a JSON Schema answer (output_config.format, the API's own
 * structured output). The API has no "any JSON object" mode: json_object is refused by name,
 * as is a detail level on an image, rather than answered as if honoured.
 */
export function applyTooling(body: ToolingBody, tooling: Tooling, where: { provider: string; model: string }): void {
  const refuse = (field: string, what: string): never => {
    throw invalidArgument([{ field, description: `provider ${where.provider} (model ${where.model}) cannot honour ${what}: ${ADVICE}` }]);
  };
  if (tooling.tools) {
    body.tools = tooling.tools.map((tool, i) => {
      // The API refuses a schema without type object, which OpenAI takes (`parameters: {}` for no
      // arguments); the door lets through no other type.
      const schema: JsonObject = tool.parameters ? extend(tool.parameters, { type: 'object' }) : { type: 'object', properties: {} };
      return {
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        // A strict tool's schema is held to what the API's structured outputs take, as an answer's is.
        input_schema: (tool.strict ? messagesApiSchema(schema, `tooling.tools[${i}].parameters`, where) : schema) as Tool['input_schema'],
        ...(tool.strict ? { strict: true } : {}),
        ...cacheControl(tool.cache),
      };
    });
  }
  // The API refuses any tool_choice without tools. The doors take auto and none without tools, and
  // with none to call they ask for nothing more: they are left out.
  const choice = body.tools?.length ? tooling.toolChoice : undefined;
  const serial = tooling.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  if (choice?.type === 'none') body.tool_choice = { type: 'none' };
  else if (choice?.type === 'required') body.tool_choice = { type: 'any', ...serial };
  else if (choice?.type === 'function') body.tool_choice = { type: 'tool', name: choice.name, ...serial };
  else if (choice?.type === 'auto' || tooling.parallelToolCalls === false) body.tool_choice = { type: 'auto', ...serial };
  const format = tooling.responseFormat;
  if (format?.type === 'json_object') refuse('response_format', 'json_object (it has no "any JSON" mode; use json_schema)');
  if (format?.type === 'json_schema') {
    const schema =
      format.description && format.schema.description === undefined
        ? extend(format.schema, { description: format.description })
        : format.schema;
    body.output_config = {
      format: { type: 'json_schema', schema: messagesApiSchema(schema, 'response_format.json_schema.schema', where) },
    };
  }
}

/**
 * The Messages API answers 400 to a JSON Schema answer's or a strict tool's schema with an object
 * not closed (additionalProperties false) or a constraint it does not enforce (minimum,
 * maxLength, minItems above 1...). The schema goes as Anthropic's SDK shapes it for its own
 * structured output helpers: each object closed, those constraints written into the description
 * the model reads. One it cannot shape (a property without a type) is refused here, as `field`,
 * rather than upstream.
 */
function messagesApiSchema(schema: JsonObject, field: string, where: { provider: string; model: string }): JsonObject {
  try {
    return transformJSONSchema(schema) as JsonObject;
  } catch (err) {
    throw invalidArgument([
      {
        field,
        description: `provider ${where.provider} (model ${where.model}) cannot honour this schema (${(err as Error).message}): ${ADVICE}`,
      },
    ]);
  }
}

const ADVICE = 'remove it or choose a model of another provider';

/** Image detail levels are OpenAI's; the Messages API has none. */
export function checkImageDetail(messages: readonly ChatMessage[], where: { provider: string; model: string }): void {
  const violations: FieldViolation[] = [];
  messages.forEach((m, i) => {
    m.parts?.forEach((p, j) => {
      if (p.type === 'image' && p.detail !== undefined && p.detail !== 'auto') {
        violations.push({
          field: `messages[${i}].parts[${j}].image.detail`,
          description: `provider ${where.provider} (model ${where.model}) cannot honour an image detail level: ${ADVICE}`,
        });
      }
    });
  });
  if (violations.length > 0) throw invalidArgument(violations);
}

/** The tool_use blocks of an answer as our tool calls (input re-serialised as the arguments' JSON text). */
export function toolCallsOf(blocks: readonly ContentBlock[]): ToolCall[] | undefined {
  const calls: ToolCall[] = [];
  for (const block of blocks) {
    if (block.type !== 'tool_use') continue;
    if (typeof block.id !== 'string' || typeof block.name !== 'string')
      throw new TypeError('a tool_use block without a string id and name');
    calls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) });
  }
  return calls.length > 0 ? calls : undefined;
}
