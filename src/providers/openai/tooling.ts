import type {
  ChatCompletionContentPart,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { ChatMessage } from '../../domain/chat.js';
import type { ContentPart, ToolCall, ToolChoice, Tooling } from '../../domain/tools.js';
import { isHighSurrogate } from '../../domain/characters.js';
import { ID_DIGEST_CHARS, withIdDigest } from '../tool-call-ids.js';
import { extend } from '../../domain/extend.js';

/**
 * Our conversation as the Chat Completions API wants it: roles, parts, tool calls and results
 * map one to one. Prompt cache markers are left out: OpenAI caches prefixes on its own and
 * defines no such field.
 */
export function toOpenAIMessages(messages: readonly ChatMessage[]): ChatCompletionMessageParam[] {
  return messages.map((m): ChatCompletionMessageParam => {
    switch (m.role) {
      case 'tool':
        return { role: 'tool', tool_call_id: toolCallId(m.toolCallId ?? ''), content: m.content };
      case 'assistant':
        if (!m.toolCalls || m.toolCalls.length === 0) return { role: 'assistant', content: m.content };
        return {
          role: 'assistant',
          content: m.content === '' ? null : m.content,
          tool_calls: m.toolCalls.map((call) => ({
            id: toolCallId(call.id),
            type: 'function',
            function: { name: call.name, arguments: call.arguments },
          })),
        };
      case 'user':
        // Parts kept only for their prompt cache markers go as the text they join to: markers are not sent here.
        return m.parts && !m.joinedParts ? { role: 'user', content: m.parts.map(partOf) } : { role: 'user', content: m.content };
      case 'developer':
        // The same instruction slot: OpenAI reads system as developer on the models that have it, and
        // OpenAI-compatible servers (Ollama, vLLM) know only system.
        return { role: 'system', content: m.content };
      default:
        return { role: m.role, content: m.content };
    }
  });
}

const MAX_TOOL_CALL_ID = 40;

/**
 * OpenAI refuses a tool call id over 40 characters, which other servers make (and reach it in a
 * conversation begun elsewhere): such an id keeps its start, shortened the same way for the
 * call and its result.
 */
function toolCallId(id: string): string {
  if (id.length <= MAX_TOOL_CALL_ID) return id;
  let keep = MAX_TOOL_CALL_ID - ID_DIGEST_CHARS;
  // Half an emoji would go out as a lone surrogate, which is not text at all.
  if (isHighSurrogate(id.charCodeAt(keep - 1))) keep--;
  return withIdDigest(id.slice(0, keep), id);
}

function partOf(part: ContentPart): ChatCompletionContentPart {
  if (part.type === 'text') return { type: 'text', text: part.text };
  // A data: URL goes as the plain base64 one of its bytes: servers refuse the parameters, upper
  // case and line breaks RFC 2397 allows, which the image was already read past.
  const image = ('url' in part.image ? part.image.inline : undefined) ?? part.image;
  const url = 'url' in image ? image.url : `data:${image.mediaType};base64,${Buffer.from(image.data).toString('base64')}`;
  return { type: 'image_url', image_url: { url, ...(part.detail ? { detail: part.detail } : {}) } };
}

/** tools, tool_choice, parallel_tool_calls and response_format, as the Chat Completions API names them. */
export function applyTooling(params: ChatCompletionCreateParamsBase, tooling: Tooling): void {
  if (tooling.tools) {
    params.tools = tooling.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        ...(tool.parameters ? { parameters: tool.parameters } : {}),
        ...(tool.strict ? { strict: true } : {}),
      },
    }));
  }
  // The API refuses any tool_choice without tools. The doors take auto and none without tools, and
  // with none to call they ask for nothing more: they are left out.
  if (tooling.toolChoice && params.tools?.length) params.tool_choice = toolChoiceOf(tooling.toolChoice);
  if (tooling.parallelToolCalls !== undefined) params.parallel_tool_calls = tooling.parallelToolCalls;
  const format = tooling.responseFormat;
  if (format?.type === 'json_object') params.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    params.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        ...(format.description ? { description: format.description } : {}),
        schema: format.schema,
        ...(format.strict ? { strict: true } : {}),
      },
    };
  }
}

function toolChoiceOf(choice: ToolChoice): ChatCompletionToolChoiceOption {
  return choice.type === 'function' ? { type: 'function', function: { name: choice.name } } : choice.type;
}

/** The function calls of an answer (other call types, newer than this code, are not ours to run). */
export function toolCallsOf(message: ChatCompletionMessage): ToolCall[] | undefined {
  const calls: ToolCall[] = [];
  const given: unknown = message.tool_calls;
  if (given === undefined || given === null) return undefined;
  // The upstream's answer is input: a shape other than the API's is refused, not half read.
  if (!Array.isArray(given)) throw new TypeError('message.tool_calls is not an array');
  for (const call of given as unknown[]) {
    const c = call as { type?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } | null } | null;
    if (c === null || typeof c !== 'object') throw new TypeError('a tool call is not an object');
    // vLLM and Ollama may leave the type out (or null): a function call, as its streamed pieces are read.
    if (c.type !== 'function' && c.type !== undefined && c.type !== null) continue;
    const fn = c.function;
    if (typeof c.id !== 'string' || !fn || typeof fn.name !== 'string' || typeof fn.arguments !== 'string') {
      throw new TypeError('a function tool call without a string id, name and arguments');
    }
    calls.push({ id: c.id, name: fn.name, arguments: fn.arguments });
  }
  return calls.length > 0 ? calls : undefined;
}

type ToolPiece = { index: number | undefined; id?: string; function?: { name?: string; arguments?: string } };

/**
 * A chunk's tool call pieces, each checked: an index (a whole number, which joins the pieces of
 * one call; absent or null from upstreams that leave it out) and text or nothing for the id, name
 * and arguments. A piece that is not is undefined.
 */
export function toolPieces(given: unknown): (ToolPiece | undefined)[] {
  if (given === undefined || given === null) return [];
  if (!Array.isArray(given)) return [undefined];
  const text = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';
  return given.map((p: unknown) => {
    const piece = p as { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } | null } | null;
    if (piece === null || typeof piece !== 'object') return undefined;
    const unindexed = piece.index === undefined || piece.index === null;
    if (!unindexed && (!Number.isSafeInteger(piece.index) || (piece.index as number) < 0)) return undefined;
    const fn = piece.function;
    if (!text(piece.id) || (fn !== undefined && fn !== null && (typeof fn !== 'object' || !text(fn.name) || !text(fn.arguments))))
      return undefined;
    return {
      index: unindexed ? undefined : (piece.index as number),
      ...(typeof piece.id === 'string' ? { id: piece.id } : {}),
      ...(fn
        ? {
            function: extend(
              typeof fn.name === 'string' ? { name: fn.name } : {},
              typeof fn.arguments === 'string' ? { arguments: fn.arguments } : {},
            ),
          }
        : {}),
    };
  });
}

/**
 * Our index of a streamed call from the upstream's. The index joins a call's pieces, but Ollama
 * streams each call of an answer whole and every one at index 0 (its issue 15457): a piece with
 * an id other than the one its index already holds is a call of its own, at the next index.
 * Pieces without an id, or with the same one, join the call their index holds. A piece without
 * an index (Gemini, Ollama before 0.4.7) is read by its id: the call that has it, or a new one;
 * without an id it joins the call opened last, as OpenAI sends an id with a call's first piece.
 */
export class ToolCallIndexes {
  private readonly byUpstream = new Map<number, { id: string | undefined; index: number }>();
  private readonly byId = new Map<string, number>();
  private calls = 0;

  of(piece: Pick<ToolPiece, 'index' | 'id'>): number {
    if (piece.index === undefined) return this.unindexed(piece.id || undefined);
    const known = this.byUpstream.get(piece.index);
    if (known && (!piece.id || !known.id || piece.id === known.id)) {
      if (!known.id && piece.id) {
        known.id = piece.id;
        this.byId.set(piece.id, known.index);
      }
      return known.index;
    }
    const index = this.open(piece.id || undefined);
    this.byUpstream.set(piece.index, { id: piece.id || undefined, index });
    return index;
  }

  private unindexed(id: string | undefined): number {
    const known = id === undefined ? (this.calls > 0 ? this.calls - 1 : undefined) : this.byId.get(id);
    return known ?? this.open(id);
  }

  private open(id: string | undefined): number {
    const index = this.calls++;
    if (id !== undefined) this.byId.set(id, index);
    return index;
  }
}
