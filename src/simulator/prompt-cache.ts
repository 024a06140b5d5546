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
  // The marker is no part of the prefix: the same blocks marked elsewhere are the same prefix.
  const add = (block: unknown, where: string, tokens: number): void => {
    const { cache_control: control, ...rest } = isRecord(block) ? block : { value: block };
    hash.update(`\0${where}\0${JSON.stringify(rest)}`);
    if (isRecord(control)) points.push({ key: hash.copy().digest('hex'), tokens, hour: control.ttl === '1h' });
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
      add(head, turn.role, before);
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
