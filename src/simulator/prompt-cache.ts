import { createHash, type Hash } from 'node:crypto';
import { estimateTokens } from './text.js';

/**
 * Anthropic's prompt cache, as far as a caller can see it: a request whose blocks carry
 * `cache_control` writes the prompt up to each marked block, and a later request for the same
 * model that begins with a prefix written before (and not expired) reads it. The usage splits
 * the prompt as the API does: read, written (five minutes or an hour), the rest as input.
 * A read is found at each breakpoint or at any of the 20 block boundaries before it, as the
 * API looks back, so a conversation that moves its marker to its newest turn reads what the
 * previous call wrote. Simplified: no minimum prefix length.
 */

/** A prefix ending at a block boundary: its identity (model and every block up to it) and its tokens. */
export interface CachePrefix {
  readonly key: string;
  readonly tokens: number;
}

/** A marked prefix, its lifetime, and the prefixes of the boundaries before it that a read may find. */
export interface CacheBreakpoint extends CachePrefix {
  readonly hour: boolean;
  readonly earlier: readonly CachePrefix[];
}

export interface PromptCacheUsage {
  readonly read: number;
  readonly written5m: number;
  readonly written1h: number;
}

export const NO_CACHE_USE: PromptCacheUsage = { read: 0, written5m: 0, written1h: 0 };

const FIVE_MINUTES_MS = 5 * 60_000;
const HOUR_MS = 60 * 60_000;
/** How many block boundaries before a breakpoint the API checks for a prefix written before. */
const LOOKBACK_BLOCKS = 20;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The blocks of a system prompt or a message's content: a string is one text block. */
function blocksOf(content: unknown): unknown[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content : [];
}

/** The text a block adds to the prompt as the simulator counts it. */
function textOf(block: unknown): string {
  return isRecord(block) && block.type === 'text' && typeof block.text === 'string' ? block.text : '';
}

const isMarked = (block: unknown): boolean => isRecord(block) && isRecord(block.cache_control);

/** A tool result's own marker or one on a block of its content, where the gateway puts a marked result part. */
const holdsMarker = (block: unknown): boolean =>
  isMarked(block) || (isRecord(block) && block.type === 'tool_result' && blocksOf(block.content).some(isMarked));

/**
 * What tool definitions add to the prompt: their JSON at four characters a token, as the API
 * counts the tools in `input_tokens` (and in the prefix a marked tool ends); a marker adds none.
 */
export function toolTokensOf(tools: unknown): number {
  let tokens = 0;
  for (const tool of Array.isArray(tools) ? (tools as unknown[]) : []) {
    const { cache_control: _marker, ...definition }: Record<string, unknown> = isRecord(tool) ? tool : { value: tool };
    tokens += estimateTokens(JSON.stringify(definition));
  }
  return tokens;
}

/**
 * The breakpoints of a Messages API body, in the API's order: tools, system, messages, and
 * inside a tool_result its content blocks, then the result itself. Each covers the prompt up to
 * and including its block. Tokens count as the simulator counts a prompt: text at four
 * characters a token, 3 per message (the system prompt is one, and so is each tool result,
 * apart from its turn's text), a tool its JSON (`toolTokensOf`). Empty when no block is marked.
 */
export function breakpointsOf(body: Record<string, unknown>, model: string): CacheBreakpoint[] {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const turns: { role: string; blocks: unknown[] }[] = [];
  if (body.system !== undefined) turns.push({ role: 'system', blocks: blocksOf(body.system) });
  for (const m of Array.isArray(body.messages) ? body.messages : [])
    if (isRecord(m)) turns.push({ role: String(m.role), blocks: blocksOf(m.content) });
  if (!tools.some(isMarked) && !turns.some((t) => t.blocks.some(holdsMarker))) return [];

  const hash: Hash = createHash('sha256').update(model);
  const points: CacheBreakpoint[] = [];
  const recent: CachePrefix[] = [];
  // The marker is no part of the prefix: the same blocks marked elsewhere are the same prefix.
  const add = (block: unknown, where: string, tokens: number, boundary = true): void => {
    const { cache_control: control, ...rest } = isRecord(block) ? block : { value: block };
    hash.update(`\0${where}\0${JSON.stringify(rest)}`);
    if (!boundary) return;
    const key = hash.copy().digest('hex');
    if (isRecord(control)) points.push({ key, tokens, hour: control.ttl === '1h', earlier: recent.slice() });
    recent.push({ key, tokens });
    if (recent.length > LOOKBACK_BLOCKS) recent.shift();
  };
  let before = 0;
  for (const tool of tools) {
    before += toolTokensOf([tool]);
    add(tool, 'tool', before);
  }
  for (const turn of turns) {
    let results = 0;
    let text = '';
    // A turn's text is a message of its own unless the turn is only tool results.
    const textTokens = (): number => (text !== '' || results === 0 ? estimateTokens(text) + 3 : 0);
    for (const block of turn.blocks) {
      if (!isRecord(block) || block.type !== 'tool_result') {
        text += textOf(block);
        add(block, turn.role, before + textTokens());
        continue;
      }
      const { content, cache_control: control, ...head } = block;
      // A result's opening is no boundary: its content blocks and its end are.
      add(head, turn.role, before, false);
      let inner = '';
      for (const part of blocksOf(content)) {
        inner += textOf(part);
        add(part, 'tool_result', before + estimateTokens(inner) + 3 + (text === '' ? 0 : textTokens()));
      }
      before += estimateTokens(inner) + 3;
      results += 1;
      add({ end: 'tool_result', cache_control: control }, turn.role, before + (text === '' ? 0 : textTokens()));
    }
    before += textTokens();
  }
  return points;
}

/** Prefixes written, by key, with when each expires and for how long a read keeps it; the oldest go first past `max`. */
export class PromptCacheBook {
  readonly #entries = new Map<string, { expires: number; lifetimeMs: number }>();

  constructor(private readonly max = 1024) {}

  /** How the prompt of a request with these breakpoints divides (none past `promptTokens`); writes and refreshes them. */
  use(points: readonly CacheBreakpoint[], promptTokens: number, now = Date.now()): PromptCacheUsage {
    if (points.length === 0) return NO_CACHE_USE;
    let read = 0;
    for (const p of points) {
      for (const prefix of [p, ...p.earlier]) {
        const entry = this.#entries.get(prefix.key);
        if (entry === undefined || entry.expires <= now) continue;
        read = Math.max(read, Math.min(prefix.tokens, promptTokens));
        // A read keeps a prefix for another lifetime, as a write does.
        this.#keep(prefix.key, now + entry.lifetimeMs, entry.lifetimeMs);
      }
    }
    let written5m = 0;
    let written1h = 0;
    let covered = read;
    for (const p of points) {
      const end = Math.min(p.tokens, promptTokens);
      if (end > covered) {
        if (p.hour) written1h += end - covered;
        else written5m += end - covered;
        covered = end;
      }
      const lifetimeMs = p.hour ? HOUR_MS : FIVE_MINUTES_MS;
      this.#keep(p.key, now + lifetimeMs, lifetimeMs);
    }
    while (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    return { read, written5m, written1h };
  }

  /** Moved to the newest end, so the least recently used go first. */
  #keep(key: string, expires: number, lifetimeMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { expires, lifetimeMs });
  }
}
