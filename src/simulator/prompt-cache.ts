import { createHash, type Hash } from 'node:crypto';
import { estimateTokens } from './text.js';

/**
 * Anthropic's prompt cache, as far as a caller can see it: a request whose blocks carry
 * `cache_control` writes the prompt up to each marked block, and a later request for the same
 * model that begins with a prefix written before (and not expired) reads it. The usage splits
 * the prompt as the API does: read, written (five minutes or an hour), the rest as input.
 * Simplified: no minimum prefix length, and only the longest cached prefix of a request's own
 * breakpoints is found (the API also looks a few blocks back from each).
 */

/** A marked prefix: its identity (model and every block up to the marker), its tokens, its lifetime. */
export interface CacheBreakpoint {
  readonly key: string;
  readonly tokens: number;
  readonly hour: boolean;
}

export interface PromptCacheUsage {
  readonly read: number;
  readonly written5m: number;
  readonly written1h: number;
}

export const NO_CACHE_USE: PromptCacheUsage = { read: 0, written5m: 0, written1h: 0 };

const FIVE_MINUTES_MS = 5 * 60_000;
const HOUR_MS = 60 * 60_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The blocks of a system prompt or a message's content: a string is one text block. */
function blocksOf(content: unknown): unknown[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content : [];
}

/** The text a block adds to the prompt as the simulator counts it (text, and a tool result's text). */
function textOf(block: unknown): string {
  if (!isRecord(block)) return '';
  if (block.type === 'text' && typeof block.text === 'string') return block.text;
  if (block.type === 'tool_result') return blocksOf(block.content).map(textOf).join('');
  return '';
}

/**
 * The breakpoints of a Messages API body, in the API's order: tools, system, messages. Tokens
 * count as the simulator counts a prompt: text at four characters a token, 3 per message (the
 * system prompt is one); tools count none. Empty when no block is marked.
 */
export function breakpointsOf(body: Record<string, unknown>, model: string): CacheBreakpoint[] {
  const marked = (block: unknown): boolean => isRecord(block) && isRecord(block.cache_control);
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const turns: { role: string; blocks: unknown[] }[] = [];
  if (body.system !== undefined) turns.push({ role: 'system', blocks: blocksOf(body.system) });
  for (const m of Array.isArray(body.messages) ? body.messages : [])
    if (isRecord(m)) turns.push({ role: String(m.role), blocks: blocksOf(m.content) });
  if (!tools.some(marked) && !turns.some((t) => t.blocks.some(marked))) return [];

  const hash: Hash = createHash('sha256').update(model);
  const points: CacheBreakpoint[] = [];
  const add = (block: unknown, role: string, tokens: number): void => {
    const { cache_control: control, ...rest } = isRecord(block) ? block : { value: block };
    hash.update(`\0${role}\0${JSON.stringify(rest)}`);
    if (isRecord(control)) points.push({ key: hash.copy().digest('hex'), tokens, hour: control.ttl === '1h' });
  };
  for (const tool of tools) add(tool, 'tool', 0);
  let before = 0;
  for (const turn of turns) {
    const whole = estimateTokens(turn.blocks.map(textOf).join('')) + 3;
    let chars = 0;
    for (const block of turn.blocks) {
      chars += textOf(block).length;
      add(block, turn.role, before + Math.min(Math.ceil(chars / 4) + 3, whole));
    }
    before += whole;
  }
  return points;
}

/** Prefixes written, by key, with when each expires; the oldest go first past `max`. */
export class PromptCacheBook {
  readonly #entries = new Map<string, number>();

  constructor(private readonly max = 1024) {}

  /** How the prompt of a request with these breakpoints divides (none past `promptTokens`); writes and refreshes them. */
  use(points: readonly CacheBreakpoint[], promptTokens: number, now = Date.now()): PromptCacheUsage {
    if (points.length === 0) return NO_CACHE_USE;
    let read = 0;
    for (const p of points) {
      const expires = this.#entries.get(p.key);
      if (expires !== undefined && expires > now) read = Math.max(read, Math.min(p.tokens, promptTokens));
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
      this.#entries.delete(p.key);
      this.#entries.set(p.key, now + (p.hour ? HOUR_MS : FIVE_MINUTES_MS));
    }
    while (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    return { read, written5m, written1h };
  }
}
