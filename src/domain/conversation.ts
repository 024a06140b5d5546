import { characterCount, longerThan } from './characters.js';
import type { ChatMessage } from './chat.js';
import { CHECKED_PAST_LIMIT, type FieldViolation } from './errors.js';
import {
  IMAGE_MEDIA_TYPES,
  isToolName,
  type ContentPart,
  type ImageBytes,
  type ImageSource,
  type RequiredCapabilities,
  type Tooling,
} from './tools.js';

/**
 * Messages, content parts and tool calls per request. Each is walked on the event loop, one by
 * one, by validation, the token estimate, routing and the provider's translation: 400,000
 * one-letter messages (within MAX_MESSAGE_BYTES) held it for most of a second, 90,000 image parts
 * in one message a third of one. Ten thousand is more than a long agent's history holds, and
 * costs a few milliseconds.
 */
export const MESSAGE_LIMITS = { maxMessages: 10_000, maxParts: 10_000, maxToolCalls: 10_000 } as const;

/**
 * A tool call's id, and a tool message's `tool_call_id`: providers make ids of a few dozen
 * characters (OpenAI's `call_` and 24 more), and 256 is the bound the contract's other names have.
 */
export const MAX_TOOL_CALL_ID_CHARS = 256;

/** What a conversation is held to beyond the message counts. */
export interface ConversationLimits {
  readonly maxImageBytes: number;
  /** MAX_CONTENT_CHARS: a tool call's arguments are text the model reads, as a message's content is. */
  readonly maxContentChars: number;
}

/** How many content parts and tool calls a message of a door's own shape holds (counted, not read). */
export type ItemCounts<T> = (message: T) => { readonly parts: number; readonly toolCalls: number };

/**
 * The messages a door checks one by one: all of them, or, past MESSAGE_LIMITS.maxMessages, the
 * first CHECKED_PAST_LIMIT beside the count's violation (the rest are not read). Past the limit
 * on content parts or tool calls in all messages, none: any message could hold them all.
 */
export function messagesToCheck<T>(
  messages: readonly T[],
  field: string,
  counts: ItemCounts<T>,
): { checked: readonly T[]; violation?: FieldViolation } {
  if (messages.length > MESSAGE_LIMITS.maxMessages) {
    return {
      checked: messages.slice(0, CHECKED_PAST_LIMIT),
      violation: { field, description: `at most ${MESSAGE_LIMITS.maxMessages} messages (got ${messages.length})` },
    };
  }
  let parts = 0;
  let toolCalls = 0;
  for (const message of messages) {
    const items = counts(message);
    parts += items.parts;
    toolCalls += items.toolCalls;
  }
  if (parts > MESSAGE_LIMITS.maxParts)
    return { checked: [], violation: { field, description: `at most ${MESSAGE_LIMITS.maxParts} content parts in all (got ${parts})` } };
  if (toolCalls > MESSAGE_LIMITS.maxToolCalls)
    return {
      checked: [],
      violation: { field, description: `at most ${MESSAGE_LIMITS.maxToolCalls} tool calls in all (got ${toolCalls})` },
    };
  return { checked: messages };
}

/** Default IMAGE_MAX_BYTES: what Anthropic takes per image. */
export const DEFAULT_IMAGE_MAX_BYTES = 5 * 1024 * 1024;

/**
 * The rules a conversation keeps whichever door it came through: a tool message answers a call
 * an earlier assistant message made, tool calls only on assistant messages, their ids and
 * arguments bounded, parts not empty, images only from the user, by URL or as bytes of a known
 * image type within the size limit. `at(i)` spells message i's field path as the door does
 * (`messages[2]`).
 */
export function checkConversation(
  messages: readonly ChatMessage[],
  at: (index: number) => string,
  limits: ConversationLimits,
): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string): void => {
    violations.push({ field, description });
  };
  const bounded = (field: string, text: string, max: number): void => {
    if (longerThan(text, max)) add(field, `must be at most ${max} characters (got ${characterCount(text)})`);
  };
  const calls = new Set<string>();
  messages.forEach((m, i) => {
    const field = at(i);
    if (m.toolCalls && m.toolCalls.length > 0) {
      if (m.role !== 'assistant') add(`${field}.tool_calls`, 'only on assistant messages');
      m.toolCalls.forEach((call, j) => {
        if (call.id === '') add(`${field}.tool_calls[${j}].id`, 'must not be empty');
        else if (longerThan(call.id, MAX_TOOL_CALL_ID_CHARS)) bounded(`${field}.tool_calls[${j}].id`, call.id, MAX_TOOL_CALL_ID_CHARS);
        else if (calls.has(call.id)) add(`${field}.tool_calls[${j}].id`, `"${call.id}" is used by an earlier tool call`);
        bounded(`${field}.tool_calls[${j}].arguments`, call.arguments, limits.maxContentChars);
        if (call.name === '') add(`${field}.tool_calls[${j}].name`, 'must not be empty');
        else if (!isToolName(call.name)) add(`${field}.tool_calls[${j}].name`, 'must be 1 to 64 letters, digits, underscores or dashes');
        calls.add(call.id);
      });
    }
    if (m.role === 'tool') {
      if (!m.toolCallId) add(`${field}.tool_call_id`, 'required on a tool message: the id of the call it answers');
      else if (longerThan(m.toolCallId, MAX_TOOL_CALL_ID_CHARS)) bounded(`${field}.tool_call_id`, m.toolCallId, MAX_TOOL_CALL_ID_CHARS);
      else if (!calls.has(m.toolCallId))
        add(`${field}.tool_call_id`, `"${m.toolCallId}" is not the id of a tool call of an earlier assistant message`);
    } else if (m.toolCallId) add(`${field}.tool_call_id`, 'only on tool messages');
    for (const [j, part] of (m.parts ?? []).entries()) checkPart(part, `${field}.parts[${j}]`, m.role, limits, add);
  });
  return violations;
}

function checkPart(
  part: ContentPart,
  field: string,
  role: ChatMessage['role'],
  limits: ConversationLimits,
  add: (field: string, description: string) => void,
): void {
  if (part.type === 'text') {
    if (part.text.trim() === '') add(`${field}.text`, 'must not be empty or only whitespace');
    return;
  }
  if (role !== 'user') add(field, 'images only on user messages');
  const image = part.image;
  if ('url' in image) {
    if (image.url === '') add(`${field}.image.url`, 'must not be empty');
    else if (!/^(https?:|data:image\/)/i.test(image.url)) add(`${field}.image.url`, 'must be an http(s) URL or a data:image/... URL');
    // A data: URL not in base64 carries bytes no check can read and no provider takes.
    else if (!image.inline && /^data:/i.test(image.url))
      add(
        `${field}.image.url`,
        saysBase64(image.url) ? 'is not valid base64 after ;base64,' : 'a data: URL must be base64: data:image/png;base64,...',
      );
    // A data: URL carries the image itself: held to the rules for bytes, under the field that has it.
    if (image.inline) checkBytes(image.inline, { data: `${field}.image.url`, mediaType: `${field}.image.url` }, limits, add);
    return;
  }
  checkBytes(image, { data: `${field}.image.data`, mediaType: `${field}.image.media_type` }, limits, add);
}

function checkBytes(
  image: ImageBytes,
  fields: { readonly data: string; readonly mediaType: string },
  limits: { readonly maxImageBytes: number },
  add: (field: string, description: string) => void,
): void {
  if (image.data.length === 0) add(fields.data, 'must not be empty');
  else if (image.data.length > limits.maxImageBytes)
    add(fields.data, `must be at most ${limits.maxImageBytes} bytes (IMAGE_MAX_BYTES; got ${image.data.length})`);
  if (!IMAGE_MEDIA_TYPES.includes(image.mediaType)) add(fields.mediaType, `must be one of ${IMAGE_MEDIA_TYPES.join(', ')}`);
}

/**
 * An image given as a base64 data: URL (`data:image/png[;name=value...];base64,...`), as its bytes
 * and media type; undefined for any other URL. Parameters before `;base64` are allowed, as RFC 2397
 * allows them, and dropped: skipping such a URL here would let it past the size and type checks.
 * Read by splitting, not by a regular expression: a header of a million `;` must cost one pass.
 */
export function imageOfDataUrl(url: string): ImageBytes | undefined {
  if (!/^data:/i.test(url)) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const header = url.slice('data:'.length, comma).split(';');
  const mediaType = (header[0] ?? '').toLowerCase();
  if (header.length < 2 || header.at(-1)?.toLowerCase() !== 'base64' || !mediaType.startsWith('image/')) return undefined;
  const payload = percentDecoded(url.slice(comma + 1));
  if (payload === undefined) return undefined;
  const data = Buffer.from(payload, 'base64');
  // Node's decoder skips what is not base64 and a piece left over at the end: a damaged image
  // would go upstream as other bytes, and fail there, or worse, not.
  return wholeBase64(payload, data.length) ? { data, mediaType } : undefined;
}

/**
 * RFC 2397 lets the data be URL-encoded (`%2B` for `+`), and browsers percent-decode it before the
 * base64 (the Fetch Standard's data: URL processor); a broken escape is damage, undefined.
 */
function percentDecoded(payload: string): string | undefined {
  if (!payload.includes('%')) return payload;
  try {
    return decodeURIComponent(payload);
  } catch {
    return undefined;
  }
}

/** A data: URL whose header ends in ;base64 (its payload then failed to decode). */
function saysBase64(url: string): boolean {
  const comma = url.indexOf(',');
  return comma > 0 && /;base64$/i.test(url.slice(0, comma));
}

/**
 * Whether every character of the payload went into the decoded bytes. The usual case costs no
 * pass of its own: as many bytes as the length promises and no lone character at the end. Only a
 * payload that decoded short (line breaks in it, or damage) is read again, and one a character
 * past whole groups: a lone base64 character there is damage, one white space character is not.
 */
function wholeBase64(payload: string, decoded: number): boolean {
  if (decoded === Buffer.byteLength(payload, 'base64') && payload.length % 4 !== 1) return true;
  const compact = payload.replace(/\s+/g, '');
  return compact.length % 4 !== 1 && /^[A-Za-z0-9+/_-]*={0,2}$/.test(compact);
}

/** An image by URL, with a base64 data: URL's image decoded once, here, for everything after the door to read. */
export function imageOfUrl(url: string): ImageSource {
  const inline = imageOfDataUrl(url);
  return inline ? { url, inline } : { url };
}

/** What a request uses that only some models take: tools (offered, or calls in the history), images, a JSON Schema answer. */
export function requiredCapabilities(messages: readonly ChatMessage[], tooling: Tooling | undefined): RequiredCapabilities {
  return {
    tools: (tooling?.tools?.length ?? 0) > 0 || messages.some((m) => m.role === 'tool' || (m.toolCalls?.length ?? 0) > 0),
    images: messages.some((m) => m.parts?.some((p) => p.type === 'image') ?? false),
    jsonSchema: tooling?.responseFormat?.type === 'json_schema',
  };
}

/** The text of a message given as parts: its text parts joined, what estimates and routing read. */
export function textOfParts(parts: readonly ContentPart[]): string {
  return parts
    .filter((p) => p.type === 'text')
    .map((p) => (p.type === 'text' ? p.text : ''))
    .join('');
}
