import { isHighSurrogate } from '../domain/characters.js';
import type { SimChatRequest } from './chat-request.js';
import { exampleFor } from './schema-example.js';
import { fnv1a32 } from './text.js';

/** A tool call the simulated model makes; `fragments` are how a stream sends its arguments. */
export interface SimToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
  readonly fragments: readonly string[];
}

/** Argument text per stream chunk: small, so every stream shows a call arriving in pieces. */
const FRAGMENT_CHARS = 8;

/**
 * The simulated model's tool use, deterministic from the request: with tools offered (and
 * tool_choice not none) it calls them until a tool result is the last message (then it
 * answers in text), or always when tool_choice is required or names a function. It calls the
 * named function, else the first tool, and the second too when parallel calls are allowed.
 * Arguments follow each tool's parameters schema (schema-example.ts).
 */
export function plannedToolCalls(request: SimChatRequest): SimToolCall[] | undefined {
  const tools = request.tools ?? [];
  const choice = request.toolChoice ?? 'auto';
  if (tools.length === 0 || choice === 'none') return undefined;
  const forced = typeof choice === 'object' ? choice.name : undefined;
  if (choice === 'auto' && request.messages.at(-1)?.role === 'tool') return undefined;
  const chosen =
    forced !== undefined ? tools.filter((t) => t.name === forced) : tools.slice(0, request.parallelToolCalls === false ? 1 : 2);
  if (chosen.length === 0) return undefined;
  const conversation = fnv1a32(request.messages.map((m) => `${m.role}:${m.content}`).join('\n'));
  return chosen.map((tool, i) => {
    const args = JSON.stringify(exampleFor(tool.parameters ?? { type: 'object', properties: {} }));
    const fragments: string[] = [];
    for (let at = 0; at < args.length; ) {
      let end = Math.min(at + FRAGMENT_CHARS, args.length);
      // Never between the halves of a surrogate pair: each half alone is no text, sent as a `\ud83d` escape.
      if (end < args.length && isHighSurrogate(args.charCodeAt(end - 1))) end++;
      fragments.push(args.slice(at, end));
      at = end;
    }
    const id = `call_${fnv1a32(`${tool.name}#${i}`, conversation).toString(16).padStart(8, '0')}`;
    return { id, name: tool.name, arguments: args, fragments };
  });
}

/** The answer's text under a JSON response format, or undefined for plain text. */
export function formattedText(request: SimChatRequest, text: () => string): string | undefined {
  const format = request.responseFormat;
  if (!format) return undefined;
  if (format.type === 'json_schema') return JSON.stringify(exampleFor(format.schema));
  return JSON.stringify({ answer: text() });
}

/** After tool results, the simulated answer starts by quoting them, so a tool loop reads as one. */
export function toolResultPreface(request: SimChatRequest): string {
  const results: string[] = [];
  for (let i = request.messages.length - 1; i >= 0 && request.messages[i]?.role === 'tool'; i--)
    results.unshift(request.messages[i]?.content ?? '');
  return results.length > 0 ? `The tools answered ${results.join(' and ')}. ` : '';
}
