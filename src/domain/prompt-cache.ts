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

/**
 * What a prompt token written to the provider's cache costs, as a multiple of the input price,
 * for a model with no cache-write price of its own: Anthropic bills writes by how long the entry
 * lives, 1.25 times it for five minutes (the default, and what a write the usage does not split
 * is taken for), twice it for an hour. Only Anthropic's own API reports that split.
 */
export const CACHE_WRITE_PRICE_FACTOR = 1.25;
export const CACHE_WRITE_1H_PRICE_FACTOR = 2;

/**
 * The most a prompt token can cost per million at `price` when the request's longest marker is
 * `longest` (undefined: none, so no token is written to the cache): what a budget hold prices a
 * prompt at.
 */
export function dearestPromptPrice(
  price: { readonly inputPricePerMillion: number; readonly cacheWritePricePerMillion?: number | undefined },
  longest: PromptCacheTtl | undefined,
): number {
  const input = price.inputPricePerMillion;
  if (longest === undefined) return input;
  const fiveMinutes = price.cacheWritePricePerMillion ?? input * CACHE_WRITE_PRICE_FACTOR;
  return Math.max(input, fiveMinutes, longest === '1h' ? input * CACHE_WRITE_1H_PRICE_FACTOR : 0);
}

/** The longest-lived prompt cache marker of a request: '1h', '5m', or undefined for none. */
export function longestMarker(messages: readonly ChatMessage[], tooling: Tooling | undefined): PromptCacheTtl | undefined {
  let longest: PromptCacheTtl | undefined;
  const see = (cache: PromptCache | undefined): void => {
    if (cache && longest !== '1h') longest = cache.ttl;
  };
  const tools = tooling?.tools;
  if (tools) for (let k = 0; k < tools.length; k++) see(tools[k]!.cache);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    see(m.cache);
    const parts = m.parts;
    if (parts) for (let j = 0; j < parts.length; j++) see(parts[j]!.cache);
  }
  return longest;
}

/** Anthropic refuses a request with more breakpoints than this. */
export const MAX_PROMPT_CACHE_MARKERS = 4;

/** Where a door's request holds each marker, spelled as the door spells it. */
export interface MarkerFields {
  readonly message: (i: number) => string;
  readonly part: (i: number, j: number) => string;
  readonly tool: (k: number) => string;
}

/**
 * The rules Anthropic refuses a request for (400), checked up front so that a chain or a race
 * does not spend its attempts on them: at most MAX_PROMPT_CACHE_MARKERS markers, and no one-hour
 * marker after a five-minute one, counted over the tools, the system messages and the other
 * messages, in that order (the order the Messages API reads a request in), each message's parts
 * before its own marker (which goes on its last block). Each marker past the limit, and each
 * one-hour marker out of order, is named, so the caller sees which to drop or move.
 */
export function checkPromptCacheMarkers(
  messages: readonly ChatMessage[],
  tooling: Tooling | undefined,
  fields: MarkerFields,
): FieldViolation[] {
  // Every request passes here and almost none carries two markers: counted before anything is named.
  if (markerCount(messages, tooling) < 2) return [];
  const violations: FieldViolation[] = [];
  const marked = markersInOrder(messages, tooling, fields, violations);
  if (marked.length > MAX_PROMPT_CACHE_MARKERS) {
    const description = `at most ${MAX_PROMPT_CACHE_MARKERS} prompt cache markers in a request, tools, messages and parts together (got ${marked.length})`;
    for (const { field } of marked.slice(MAX_PROMPT_CACHE_MARKERS)) violations.push({ field, description });
  }
  const firstShort = marked.findIndex((m) => m.ttl === '5m');
  if (firstShort >= 0) {
    const description = `a one-hour prompt cache marker must come before every five-minute one (tools, then system messages, then the others); the five-minute marker at ${marked[firstShort]!.field} comes first`;
    for (const { field, ttl } of marked.slice(firstShort + 1)) if (ttl === '1h') violations.push({ field, description });
  }
  return violations;
}

interface Marker {
  readonly field: string;
  readonly ttl: PromptCacheTtl;
}

/** System and developer messages make Anthropic's system prompt, read before every other message wherever they stand. */
const isSystem = (m: ChatMessage): boolean => m.role === 'system' || m.role === 'developer';

/**
 * The markers as Anthropic reads them. A message's marker goes on its last block, which is its
 * last part's when that part ends it (no tool call after it; a tool result is a block of its
 * own): the same ttl there is one breakpoint, counted once; another ttl cannot be both, and
 * neither is kept silently: the message's is named in `violations`.
 */
function markersInOrder(
  messages: readonly ChatMessage[],
  tooling: Tooling | undefined,
  fields: MarkerFields,
  violations: FieldViolation[],
): Marker[] {
  const marked: Marker[] = [];
  for (const [k, tool] of (tooling?.tools ?? []).entries()) if (tool.cache) marked.push({ field: fields.tool(k), ttl: tool.cache.ttl });
  const add = (m: ChatMessage, i: number): void => {
    for (const [j, part] of (m.parts ?? []).entries()) if (part.cache) marked.push({ field: fields.part(i, j), ttl: part.cache.ttl });
    if (!m.cache) return;
    const last = m.parts?.length ?? 0;
    const shared = m.role !== 'tool' && !m.toolCalls?.length && last > 0 ? m.parts?.[last - 1]?.cache : undefined;
    if (shared === undefined) marked.push({ field: fields.message(i), ttl: m.cache.ttl });
    else if (shared.ttl !== m.cache.ttl)
      violations.push({
        field: fields.message(i),
        description: `falls on the block of ${fields.part(i, last - 1)} (a message's marker goes on its last block) with another ttl: drop one, or give both the same`,
      });
  };
  for (const [i, m] of messages.entries()) if (isSystem(m)) add(m, i);
  for (const [i, m] of messages.entries()) if (!isSystem(m)) add(m, i);
  return marked;
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
