import type { ChatMessage, ChatRole } from '../domain/chat.js';
import { characterCount, longerThan } from '../domain/characters.js';
import { checkConversation, DEFAULT_IMAGE_MAX_BYTES, imageOfDataUrl, messagesToCheck, textOfParts } from '../domain/conversation.js';
import type { ContentPart, ToolCall } from '../domain/tools.js';
import { isObject, refuseOtherFields, shown, type Violations } from './body-fields.js';
import { parseCacheControl } from './cache-control-fields.js';

/** The limits messages are held to on the HTTP door. */
export interface MessageLimits {
  readonly maxContentChars: number;
  readonly maxImageBytes?: number;
}

const ROLES: ReadonlyMap<string, ChatRole> = new Map([
  ['system', 'system'],
  ['developer', 'developer'],
  ['user', 'user'],
  ['assistant', 'assistant'],
  ['tool', 'tool'],
]);

/**
 * Fields a message may carry, per role; anything else is refused by name. `cache_control` on a
 * message (LiteLLM's convention) marks its last block, as on its last part.
 */
const FIELDS: Readonly<Record<ChatRole, ReadonlySet<string>>> = {
  system: new Set(['role', 'content', 'cache_control']),
  developer: new Set(['role', 'content', 'cache_control']),
  user: new Set(['role', 'content', 'cache_control']),
  // A refused answer handed back as the SDKs return it: its `refusal` is taken as its text.
  assistant: new Set(['role', 'content', 'tool_calls', 'cache_control', 'refusal']),
  // A tool result's name (langchain-openai sends it, LangGraph sets it to the function's) repeats
  // the name of the call it answers: taken when it does, and not sent on.
  tool: new Set(['role', 'content', 'tool_call_id', 'name', 'cache_control']),
};

/** Fields a content part may carry, per type (OpenAI's `prompt_cache_breakpoint` among those refused). */
const TEXT_PART_FIELDS: ReadonlySet<string> = new Set(['type', 'text', 'cache_control']);
const IMAGE_PART_FIELDS: ReadonlySet<string> = new Set(['type', 'image_url', 'cache_control']);
const IMAGE_URL_FIELDS: ReadonlySet<string> = new Set(['url', 'detail']);

const DETAILS = new Set(['auto', 'low', 'high']);
const NO_ITEMS = { parts: 0, toolCalls: 0 } as const;

/**
 * OpenAI's messages: roles system, developer, user, assistant (text and/or tool_calls) and tool
 * (tool_call_id); content as a string or parts (text, image_url by URL or data: URL, decoded to
 * bytes so the size limit applies). Audio and file parts are refused by name.
 */
export function parseMessages(raw: unknown, limits: MessageLimits, v: Violations): ChatMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    v.add('messages', 'at least one message is required');
    return [];
  }
  const { checked, violation } = messagesToCheck(raw, 'messages', (m: unknown) =>
    isObject(m)
      ? { parts: Array.isArray(m.content) ? m.content.length : 0, toolCalls: Array.isArray(m.tool_calls) ? m.tool_calls.length : 0 }
      : NO_ITEMS,
  );
  if (violation) v.add(violation.field, violation.description);
  const messages = checked.map((m: unknown, i): ChatMessage => {
    const at = `messages[${i}]`;
    if (!isObject(m)) {
      v.add(at, 'must be an object with role and content');
      return { role: 'user', content: '' };
    }
    const role = typeof m.role === 'string' ? ROLES.get(m.role) : undefined;
    if (!role) v.add(`${at}.role`, `must be system, developer, user, assistant or tool (got ${shown(m.role)})`);
    refuseOtherFields(
      v,
      m,
      FIELDS[role ?? 'user'],
      at,
      role
        ? `is not supported on ${role === 'assistant' ? 'an' : 'a'} ${role} message by this gateway`
        : 'is not supported by this gateway',
    );
    const toolCalls = role === 'assistant' ? parseToolCalls(m.tool_calls, `${at}.tool_calls`, v) : undefined;
    const allParts = Array.isArray(m.content) ? parseParts(m.content, `${at}.content`, v) : undefined;
    // Text-only parts are plain text joined, as before images existed; kept beside it only for the
    // prompt cache markers on them, which need the caller's split.
    const images = allParts?.some((p) => p.type === 'image') ?? false;
    const joinedParts = !images && (allParts?.some((p) => p.cache) ?? false);
    const parts = images || joinedParts ? allParts : undefined;
    const text = allParts ? textOfParts(allParts) : typeof m.content === 'string' ? m.content : '';
    if (!allParts && m.content !== undefined && m.content !== null && typeof m.content !== 'string')
      v.add(`${at}.content`, 'must be a string or an array of content parts');
    const refusal = role === 'assistant' ? refusalOf(m.refusal, `${at}.refusal`, v) : undefined;
    // A model that refused wrote no content (OpenAI's answers never have both): one text, not two to join.
    if (refusal !== undefined && (allParts !== undefined || text !== ''))
      v.add(`${at}.refusal`, 'must be null beside content: an assistant message has either');
    const content = refusal ?? text;
    const onlyCalls = toolCalls !== undefined && (m.content === null || m.content === undefined || m.content === '');
    // A tool's result may be empty (a function that returns nothing), as OpenAI takes it.
    if (!parts && !onlyCalls && role !== 'tool' && content.trim() === '') v.add(`${at}.content`, 'must not be empty or only whitespace');
    else if (longerThan(content, limits.maxContentChars))
      v.add(`${at}.content`, `must be at most ${limits.maxContentChars} characters (got ${characterCount(content)})`);
    const toolCallId = role === 'tool' ? (typeof m.tool_call_id === 'string' ? m.tool_call_id : '') : undefined;
    return {
      role: role ?? 'user',
      content,
      ...(parts ? { parts } : {}),
      ...(toolCalls ? { toolCalls } : {}),
      ...(toolCallId !== undefined ? { toolCallId } : {}),
      ...parseCacheControl(m.cache_control, `${at}.cache_control`, v),
      ...(joinedParts ? { joinedParts: true as const } : {}),
    };
  });
  checkToolResultNames(checked, messages, v);
  const maxImageBytes = limits.maxImageBytes ?? DEFAULT_IMAGE_MAX_BYTES;
  for (const violation of checkConversation(messages, (i) => `messages[${i}]`, {
    maxImageBytes,
    maxContentChars: limits.maxContentChars,
  })) {
    v.add(violation.field, violation.description);
  }
  return messages;
}

/**
 * A tool result's name against the call it answers. The calls' names are gathered only once a
 * named result is met, from the messages before it: most requests carry no such name.
 */
function checkToolResultNames(raw: readonly unknown[], messages: readonly ChatMessage[], v: Violations): void {
  let names: Map<string, string> | undefined;
  let gathered = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const message = raw[i];
    const name = m.role === 'tool' && isObject(message) ? message.name : undefined;
    if (name === undefined || name === null) continue;
    if (typeof name !== 'string') {
      v.add(`messages[${i}].name`, 'must be a string');
      continue;
    }
    names ??= new Map();
    for (; gathered < i; gathered++) for (const call of messages[gathered]!.toolCalls ?? []) names.set(call.id, call.name);
    const called = names.get(m.toolCallId ?? '');
    if (called !== undefined && name !== called)
      v.add(`messages[${i}].name`, `must be the name of the function the call it answers named ("${called}"), or absent`);
  }
}

/** An assistant message's refusal (OpenAI's answers carry one, null when the model did not refuse). */
function refusalOf(raw: unknown, at: string, v: Violations): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'string') return raw;
  v.add(at, `must be a string or null (got ${shown(raw)})`);
  return undefined;
}

function parseToolCalls(raw: unknown, at: string, v: Violations): ToolCall[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.length === 0) {
    v.add(at, 'must be a non-empty array of tool calls');
    return undefined;
  }
  return raw.map((call: unknown, j) => {
    const fn = isObject(call) ? call.function : undefined;
    if (!isObject(call) || call.type !== 'function' || !isObject(fn) || typeof call.id !== 'string') {
      v.add(`${at}[${j}]`, 'must be { "id", "type": "function", "function": { "name", "arguments" } }');
      return { id: '', name: '', arguments: '' };
    }
    if (typeof fn.arguments !== 'string') v.add(`${at}[${j}].function.arguments`, 'must be a string (the arguments as JSON text)');
    return {
      id: call.id,
      name: typeof fn.name === 'string' ? fn.name : '',
      arguments: typeof fn.arguments === 'string' ? fn.arguments : '',
    };
  });
}

function parseParts(raw: unknown[], at: string, v: Violations): ContentPart[] {
  return raw.map((part: unknown, j): ContentPart => {
    const field = `${at}[${j}]`;
    const type = isObject(part) ? part.type : undefined;
    const cache = isObject(part) ? parseCacheControl(part.cache_control, `${field}.cache_control`, v) : {};
    if (isObject(part) && type === 'text') {
      refuseOtherFields(v, part, TEXT_PART_FIELDS, field, 'is not supported on a text part by this gateway');
      if (typeof part.text === 'string') return { type: 'text', text: part.text, ...cache };
      v.add(`${field}.text`, `must be a string (got ${shown(part.text)})`);
    } else if (isObject(part) && type === 'image_url') {
      refuseOtherFields(v, part, IMAGE_PART_FIELDS, field, 'is not supported on an image_url part by this gateway');
      const image = part.image_url;
      if (isObject(image)) refuseOtherFields(v, image, IMAGE_URL_FIELDS, `${field}.image_url`, 'is not an image_url field');
      if (isObject(image) && typeof image.url === 'string') {
        const { url, detail } = image;
        if (detail !== undefined && detail !== null && !(typeof detail === 'string' && DETAILS.has(detail)))
          v.add(`${field}.image_url.detail`, 'must be auto, low or high');
        const level = typeof detail === 'string' && DETAILS.has(detail) ? { detail: detail as 'auto' | 'low' | 'high' } : {};
        return { type: 'image', image: imageOfDataUrl(url) ?? { url }, ...level, ...cache };
      }
      if (isObject(image)) v.add(`${field}.image_url.url`, `must be a string: an http(s) or data: URL (got ${shown(image.url)})`);
      else v.add(`${field}.image_url`, `must be an object with a url: { "url": "https://..." } (got ${shown(image)})`);
    } else {
      v.add(type === undefined ? field : `${field}.type`, `only text and image_url parts are supported (got ${shown(type ?? part)})`);
    }
    return { type: 'text', text: '' };
  });
}
