import type { ChatMessage } from './chat.js';
import type { FieldViolation } from './errors.js';
import type { Tooling } from './tools.js';

/**
 * A breakpoint of a provider's prompt cache: the prompt up to and including what carries it
 * (a message, a content part, a tool definition) is cached, and a later request that begins
 * with the same prefix reads it at the cached price. Anthropic caches only where a request
 * marks it; OpenAI caches prefixes on its own and has no such field, so only the Anthropic
 * provider sends it. The answer is the same with or without one: the response cache's key and
 * the ledger's prompt hash do not read it.
 */
export interface PromptCache {
  /** How long the provider keeps the prefix after its last use: Anthropic's `5m` (its default) or `1h`. */
  readonly ttl: PromptCacheTtl;
}

export type PromptCacheTtl = '5m' | '1h';

export const PROMPT_CACHE_TTLS: readonly PromptCacheTtl[] = ['5m', '1h'];

/** Anthropic refuses a request with more breakpoints than this. */
export const MAX_PROMPT_CACHE_MARKERS = 4;

/** Where a door's request holds each marker, spelled as the door spells it. */
export interface MarkerFields {
  readonly message: (i: number) => string;
  readonly part: (i: number, j: number) => string;
  readonly tool: (k: number) => string;
}

/**
 * At most MAX_PROMPT_CACHE_MARKERS markers in a request, counted over the tools, the messages
 * and their parts; each one past the limit is named, so the caller sees which to drop.
 */
export function checkPromptCacheMarkers(
  messages: readonly ChatMessage[],
  tooling: Tooling | undefined,
  fields: MarkerFields,
): FieldViolation[] {
  // Every request passes here and almost none carries a marker: counted before anything is named.
  if (markerCount(messages, tooling) <= MAX_PROMPT_CACHE_MARKERS) return [];
  const marked: string[] = [];
  for (const [k, tool] of (tooling?.tools ?? []).entries()) if (tool.cache) marked.push(fields.tool(k));
  for (const [i, m] of messages.entries()) {
    for (const [j, part] of (m.parts ?? []).entries()) if (part.cache) marked.push(fields.part(i, j));
    if (m.cache) marked.push(fields.message(i));
  }
  const description = `at most ${MAX_PROMPT_CACHE_MARKERS} prompt cache markers in a request, tools, messages and parts together (got ${marked.length})`;
  return marked.slice(MAX_PROMPT_CACHE_MARKERS).map((field) => ({ field, description }));
}

function markerCount(messages: readonly ChatMessage[], tooling: Tooling | undefined): number {
  let count = 0;
  const tools = tooling?.tools;
  if (tools) for (let k = 0; k < tools.length; k++) if (tools[k]!.cache) count++;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.cache) count++;
    const parts = m.parts;
    if (parts) for (let j = 0; j < parts.length; j++) if (parts[j]!.cache) count++;
  }
  return count;
}
