import type { ChatMessage, ChatRole } from '../domain/chat.js';
import { imageOfUrl, textOfParts } from '../domain/conversation.js';
import {
  checkTooling,
  definedTooling,
  type ContentPart,
  type JsonObject,
  type ResponseFormat as DomainFormat,
  type ToolChoice as DomainChoice,
  type Tooling,
} from '../domain/tools.js';
import { ResponseFormatType, ToolChoiceMode, type ResponseFormat, type ToolChoice, type ToolOptions } from '../gen/orchestrator/v1/chat.js';
import type { PromptCache } from '../domain/prompt-cache.js';
import {
  PromptCacheTtl,
  Role,
  type ContentPart as PartMessage,
  type Message,
  type PromptCache as PromptCacheMessage,
} from '../gen/orchestrator/v1/common.js';

type Add = (field: string, description: string) => void;

const ROLES: ReadonlyMap<Role, ChatRole> = new Map([
  [Role.ROLE_SYSTEM, 'system'],
  [Role.ROLE_DEVELOPER, 'developer'],
  [Role.ROLE_USER, 'user'],
  [Role.ROLE_ASSISTANT, 'assistant'],
  [Role.ROLE_TOOL, 'tool'],
]);

/**
 * One message: its role, its text or parts, its tool calls or the call it answers. Content
 * checks that depend on the shape (empty text beside tool calls) are the caller's; the rules
 * between messages are checkConversation's.
 */
export function decodeMessage(message: Message, field: string, add: Add): ChatMessage {
  const role = ROLES.get(message.role);
  if (!role) add(`${field}.role`, 'must be ROLE_SYSTEM, ROLE_DEVELOPER, ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL');
  const parts = message.parts.length > 0 ? message.parts.map((p, j) => decodePart(p, `${field}.parts[${j}]`, add)) : undefined;
  if (parts && message.content !== '') add(`${field}.content`, 'set either content or parts, not both');
  return {
    role: role ?? 'user',
    content: parts ? textOfParts(parts) : message.content,
    ...(parts ? { parts } : {}),
    ...(message.toolCalls.length > 0
      ? { toolCalls: message.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })) }
      : {}),
    ...(message.toolCallId !== '' ? { toolCallId: message.toolCallId } : {}),
    ...cacheOf(message.cache, `${field}.cache`, add),
  };
}

const TTLS: ReadonlyMap<PromptCacheTtl, PromptCache['ttl']> = new Map([
  [PromptCacheTtl.PROMPT_CACHE_TTL_UNSPECIFIED, '5m'],
  [PromptCacheTtl.PROMPT_CACHE_TTL_FIVE_MINUTES, '5m'],
  [PromptCacheTtl.PROMPT_CACHE_TTL_ONE_HOUR, '1h'],
]);

/** A prompt cache marker as a field to spread: none when unset. */
function cacheOf(cache: PromptCacheMessage | undefined, field: string, add: Add): { cache?: PromptCache } {
  if (!cache) return {};
  const ttl = TTLS.get(cache.ttl);
  if (!ttl) add(`${field}.ttl`, 'must be PROMPT_CACHE_TTL_FIVE_MINUTES or PROMPT_CACHE_TTL_ONE_HOUR (or unset: five minutes)');
  return { cache: { ttl: ttl ?? '5m' } };
}

const DETAILS = new Set(['auto', 'low', 'high']);

function decodePart(part: PartMessage, field: string, add: Add): ContentPart {
  const value = part.part;
  if (!value) {
    add(field, 'set text or image');
    return { type: 'text', text: '' };
  }
  const cache = cacheOf(part.cache, `${field}.cache`, add);
  if (value.$case === 'text') return { type: 'text', text: value.text, ...cache };
  const image = value.image;
  if (image.detail !== '' && !DETAILS.has(image.detail)) add(`${field}.image.detail`, 'must be auto, low or high');
  const detail = image.detail === '' ? {} : { detail: image.detail as 'auto' | 'low' | 'high' };
  const source = image.source;
  if (!source) {
    add(`${field}.image`, 'set url or data');
    return { type: 'image', image: { url: '' } };
  }
  if (source.$case === 'url') return { type: 'image', image: imageOfUrl(source.url), ...detail, ...cache };
  if (image.mediaType === '') add(`${field}.image.media_type`, 'required with data');
  // Media types are case-insensitive (RFC 9110), as the HTTP door reads them; providers want lower case.
  return { type: 'image', image: { data: source.data, mediaType: image.mediaType.toLowerCase() }, ...detail, ...cache };
}

/** tooling and response_format, checked (checkTooling); undefined when the request sets neither. */
export function decodeTooling(tooling: ToolOptions | undefined, format: ResponseFormat | undefined, add: Add): Tooling | undefined {
  const decoded: Tooling = {
    tools: tooling?.tools.map((t, i) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      ...(t.parameters ? { parameters: t.parameters as JsonObject } : {}),
      ...(t.strict ? { strict: true } : {}),
      ...cacheOf(t.cache, `tooling.tools[${i}].cache`, add),
    })),
    toolChoice: tooling?.toolChoice ? decodeChoice(tooling.toolChoice, add) : undefined,
    parallelToolCalls: tooling?.parallelToolCalls,
    responseFormat: format ? decodeFormat(format, add) : undefined,
  };
  if (tooling && tooling.tools.length === 0 && !tooling.toolChoice && tooling.parallelToolCalls === undefined) {
    add('tooling.tools', 'at least one tool (or leave tooling unset)');
  }
  for (const v of checkTooling(decoded, (name) => (name.startsWith('response_format') ? name : `tooling.${name}`)))
    add(v.field, v.description);
  return definedTooling(decoded);
}

function decodeChoice(choice: ToolChoice, add: Add): DomainChoice | undefined {
  const value = choice.choice;
  if (!value) return undefined;
  if (value.$case === 'function') {
    if (value.function === '') add('tooling.tool_choice.function', 'must not be empty');
    return { type: 'function', name: value.function };
  }
  switch (value.mode) {
    case ToolChoiceMode.TOOL_CHOICE_MODE_AUTO:
      return { type: 'auto' };
    case ToolChoiceMode.TOOL_CHOICE_MODE_NONE:
      return { type: 'none' };
    case ToolChoiceMode.TOOL_CHOICE_MODE_REQUIRED:
      return { type: 'required' };
    case ToolChoiceMode.TOOL_CHOICE_MODE_UNSPECIFIED:
      return undefined;
    default:
      add('tooling.tool_choice.mode', 'must be TOOL_CHOICE_MODE_AUTO, TOOL_CHOICE_MODE_NONE or TOOL_CHOICE_MODE_REQUIRED');
      return undefined;
  }
}

function decodeFormat(format: ResponseFormat, add: Add): DomainFormat | undefined {
  const schema = format.jsonSchema;
  if (schema && format.type !== ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_SCHEMA) {
    add('response_format.json_schema', 'only with RESPONSE_FORMAT_TYPE_JSON_SCHEMA');
  }
  switch (format.type) {
    case ResponseFormatType.RESPONSE_FORMAT_TYPE_UNSPECIFIED:
    case ResponseFormatType.RESPONSE_FORMAT_TYPE_TEXT:
      return { type: 'text' };
    case ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_OBJECT:
      return { type: 'json_object' };
    case ResponseFormatType.RESPONSE_FORMAT_TYPE_JSON_SCHEMA:
      if (!schema) {
        add('response_format.json_schema', 'required with RESPONSE_FORMAT_TYPE_JSON_SCHEMA');
        return undefined;
      }
      return {
        type: 'json_schema',
        name: schema.name,
        ...(schema.description ? { description: schema.description } : {}),
        schema: (schema.schema ?? {}) as JsonObject,
        ...(schema.strict ? { strict: true } : {}),
      };
    default:
      add('response_format.type', 'must be a RESPONSE_FORMAT_TYPE_ value');
      return undefined;
  }
}
