import { createRequire } from 'node:module';
import type { ChatMessage } from '../../domain/chat.js';
import { isHighSurrogate, isLowSurrogate } from '../../domain/characters.js';

export type Complexity = 'simple' | 'moderate' | 'complex';

export interface ComplexityReport {
  readonly complexity: Complexity;
  /**
   * Prompt tokens by the o200k tokenizer (GPT-4o family), plus 3 per message of framing:
   * counted exactly up to EXACT_CHARS of text, estimated from a sample past that.
   */
  readonly promptTokens: number;
  /** Which signals fired, for logs and tests. */
  readonly signals: readonly string[];
}

type TokenCounter = (text: string) => number;

/**
 * The o200k tokenizer's tables take about 40 MB of memory, so they are loaded on the first
 * routed request, not at start-up: a gateway that never routes never pays for them. Callers
 * that can wait (the engine, before ranking) await `loadTokenizer()`, which imports without
 * blocking the event loop; anything that classifies before that loads it synchronously.
 */
let counter: TokenCounter | undefined;
let loading: Promise<void> | undefined;

/** Whether the tokenizer's tables are in memory yet. */
export function tokenizerLoaded(): boolean {
  return counter !== undefined;
}

export function loadTokenizer(): Promise<void> {
  loading ??= import('gpt-tokenizer/encoding/o200k_base').then((m) => {
    counter ??= m.countTokens;
  });
  return loading;
}

function tokenizer(): TokenCounter {
  if (counter === undefined) {
    const m = createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: TokenCounter };
    counter = m.countTokens;
  }
  return counter;
}

/*
 * Classification runs on the event loop for every routed call, so its cost is bounded whatever
 * the caller sends. BPE merging costs about the square of a word's length (16 KB of one CJK run
 * takes seconds), so text is tokenized in short pieces; and since even short pieces of CJK text
 * cost about a hundred times more a character than English, each request tokenizes at most
 * TOKENIZE_BUDGET units of work (a character of one or two UTF-8 bytes is one unit, any other
 * WIDE_CHAR_UNITS) and estimates the rest at the ratio measured so far. Counting work rather
 * than time keeps the estimate the same on a busy machine and an idle one. Prompts longer than
 * EXACT_CHARS are estimated from SAMPLE_PIECES pieces spread over the text. The signals are read
 * in the head and tail of the caller's text only, with patterns that never backtrack across it.
 */
/** Prompts up to this many characters in all are counted exactly (within the work budget). */
export const EXACT_CHARS = 2_048;
/** BPE pieces stay this short, so one piece costs little and the budget is checked often. */
const PIECE_CHARS = 64;
/** Past EXACT_CHARS: this many pieces, evenly spread, give the tokens-per-character ratio. */
const SAMPLE_PIECES = 32;
/** Read whatever the budget says, so the estimate never rests on one or two pieces. */
const MIN_PIECES = 4;
/** Units of tokenizing work per request past MIN_PIECES: all of EXACT_CHARS of English, about 256 CJK characters (a few ms). */
const TOKENIZE_BUDGET = 8_192;
/** Characters of three or four UTF-8 bytes (CJK, emoji, ...) cost this many units. */
const WIDE_CHAR_UNITS = 32;
/** The signals are looked for in the first and the last this many characters of the caller's text. */
export const SIGNAL_WINDOW_CHARS = 8_192;

const FRAMING_TOKENS_PER_MESSAGE = 3;

const CODE = /```|^[ \t]{4,}\S|\b(function|def|class|const|import|SELECT|#include)\b|[{};][ \t]*$/m;
const MATH = /\\(frac|int|sum|sqrt)|[∫∑√∂≤≥≠]|\b(prove|derive|integral|derivative|equation|theorem|matrix)\b|\d[ \t]*[+\-*/^=][ \t]*\d/i;
const STEP_WORDS = /\b(step by step|step-by-step|and then|finally|plan|compare and contrast)\b/i;
const NUMBERED_LINE = /^[ \t]*\d{1,4}[.)][ \t]+\S/gm;
const FIRST = /\bfirst\b/i;
const THEN = /\bthen\b/i;
const LONG_OUTPUT = /\b(essay|in depth|in-depth|detailed|comprehensive|thorough|report|\d{3,12}[ \t]+words)\b/i;

/**
 * A message that may also say how many tokens the caller's whole prompt has (RankModels'
 * `prompt_tokens`, for a caller that knows the size of a prompt it does not send).
 */
export interface SizedMessage extends ChatMessage {
  readonly promptTokens?: number;
}

/**
 * Reads the prompt the way a router needs to: how long it is (tokens), and whether it asks
 * for code, math, several steps or a long answer. Two or more signals, or a long prompt, make
 * it complex; a short prompt with none is simple. A size the caller stated is taken when it
 * is larger than the text shows.
 */
export function classifyComplexity(messages: readonly SizedMessage[], maxTokens: number): ComplexityReport {
  const stated = messages.reduce((n, m) => Math.max(n, m.promptTokens ?? 0), 0);
  const promptTokens = Math.max(countPromptTokens(messages), stated);
  const userText = signalText(messages.filter((m) => m.role === 'user').map((m) => m.content));
  const signals: string[] = [];
  if (promptTokens > 1_500) signals.push('long_prompt');
  if (CODE.test(userText)) signals.push('code');
  if (MATH.test(userText)) signals.push('math');
  if (isMultiStep(userText)) signals.push('multi_step');
  if (maxTokens > 1_500 || LONG_OUTPUT.test(userText)) signals.push('long_output');
  const complexity: Complexity =
    signals.length >= 2 || promptTokens > 4_000 ? 'complex' : signals.length === 0 && promptTokens < 300 ? 'simple' : 'moderate';
  return { complexity, promptTokens, signals };
}

/**
 * Exact (in short pieces) up to EXACT_CHARS; past it, or past the work budget, the ratio of
 * tokens to characters in what was tokenized, times the length.
 */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  const framing = messages.length * FRAMING_TOKENS_PER_MESSAGE;
  const totalChars = messages.reduce((n, m) => n + m.content.length, 0);
  const count = tokenizer();
  let sampledChars = 0;
  let sampledTokens = 0;
  let read = 0;
  let work = 0;
  for (const piece of totalChars <= EXACT_CHARS ? allPieces(messages) : spreadPieces(messages, totalChars)) {
    sampledChars += piece.length;
    sampledTokens += count(piece);
    work += unitsOf(piece);
    if (++read >= MIN_PIECES && work > TOKENIZE_BUDGET) break;
  }
  if (sampledChars >= totalChars) return sampledTokens + framing;
  return Math.ceil((totalChars * sampledTokens) / Math.max(1, sampledChars)) + framing;
}

function* allPieces(messages: readonly ChatMessage[]): Generator<string> {
  for (const m of messages) yield* pieces(m.content);
}

/**
 * SAMPLE_PIECES pieces evenly spaced over the text, visited in bit-reversed order (0, 16, 8,
 * 24, ...): when the work budget stops early, what was read is still spread over the whole text.
 */
function* spreadPieces(messages: readonly ChatMessage[], totalChars: number): Generator<string> {
  const step = totalChars / SAMPLE_PIECES;
  const bits = Math.log2(SAMPLE_PIECES);
  for (let k = 0; k < SAMPLE_PIECES; k++) {
    let i = 0;
    for (let b = 0; b < bits; b++) i |= ((k >> b) & 1) << (bits - 1 - b);
    yield pieceAt(messages, Math.floor(i * step));
  }
}

/** Pieces of at most PIECE_CHARS, cut before a space where one is near (so words stay whole) and never inside a surrogate pair. */
function* pieces(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + PIECE_CHARS);
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end);
      if (space > start + PIECE_CHARS / 2) end = space;
      else if (isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
    }
    yield text.slice(start, end);
    start = end;
  }
}

/** The piece starting at a character offset into the messages' contents taken end to end. */
function pieceAt(messages: readonly ChatMessage[], offset: number): string {
  let rest = offset;
  for (const m of messages) {
    if (rest < m.content.length) {
      const start = rest > 0 && isLowSurrogate(m.content.charCodeAt(rest)) ? rest - 1 : rest;
      let end = Math.min(m.content.length, start + PIECE_CHARS);
      if (end < m.content.length && isHighSurrogate(m.content.charCodeAt(end - 1))) end -= 1;
      return m.content.slice(start, end);
    }
    rest -= m.content.length;
  }
  return '';
}

/** The caller's text, or its head and tail when longer than two windows. */
function signalText(texts: readonly string[]): string {
  const total = texts.reduce((n, t) => n + t.length + 1, 0);
  if (total <= 2 * SIGNAL_WINDOW_CHARS) return texts.join('\n');
  let head = '';
  for (const t of texts) {
    head += `${t.slice(0, SIGNAL_WINDOW_CHARS - head.length)}\n`;
    if (head.length >= SIGNAL_WINDOW_CHARS) break;
  }
  let tail = '';
  for (let i = texts.length - 1; i >= 0; i--) {
    const t = texts[i] ?? '';
    tail = `${t.slice(Math.max(0, t.length - (SIGNAL_WINDOW_CHARS - tail.length)))}\n${tail}`;
    if (tail.length >= SIGNAL_WINDOW_CHARS) break;
  }
  return `${head}\n${tail}`;
}

/** Step words, two numbered lines, or "first ... then" within one line; each line read once. */
function isMultiStep(text: string): boolean {
  if (STEP_WORDS.test(text)) return true;
  NUMBERED_LINE.lastIndex = 0;
  if (NUMBERED_LINE.test(text) && NUMBERED_LINE.test(text)) return true;
  for (const line of text.split('\n')) {
    const first = line.search(FIRST);
    if (first >= 0 && THEN.test(line.slice(first + 5))) return true;
  }
  return false;
}

/** Tokenizing work: one unit a character, WIDE_CHAR_UNITS for one of three or four UTF-8 bytes. */
function unitsOf(piece: string): number {
  let units = 0;
  for (let i = 0; i < piece.length; i++) units += piece.charCodeAt(i) < 0x800 ? 1 : WIDE_CHAR_UNITS;
  return units;
}
