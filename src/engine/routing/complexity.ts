import { createRequire } from 'node:module';

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

function countTokens(text: string): number {
  if (counter === undefined) {
    const m = createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/o200k_base') as { countTokens: TokenCounter };
    counter = m.countTokens;
  }
  return counter(text);
}
import type { ChatMessage } from '../../domain/chat.js';

export type Complexity = 'simple' | 'moderate' | 'complex';

export interface ComplexityReport {
  readonly complexity: Complexity;
  /** Prompt tokens by the o200k tokenizer (GPT-4o family), plus 3 per message of framing. */
  readonly promptTokens: number;
  /** Which signals fired, for logs and tests. */
  readonly signals: readonly string[];
}

const CODE = /```|^\s{4,}\S|\b(function|def|class|const|import|SELECT|#include)\b|[{};]\s*$/m;
const MATH = /\\(frac|int|sum|sqrt)|[∫∑√∂≤≥≠]|\b(prove|derive|integral|derivative|equation|theorem|matrix)\b|\d\s*[+\-*/^=]\s*\d/i;
const MULTI_STEP = /\b(step by step|step-by-step|first\b.*\bthen\b|and then|finally|plan|compare and contrast)\b|(^|\n)\s*\d+[.)]\s+\S[\s\S]*\n\s*\d+[.)]\s+\S/i;
const LONG_OUTPUT = /\b(essay|in depth|in-depth|detailed|comprehensive|thorough|report|\d{3,}\s+words)\b/i;

/**
 * Reads the prompt the way a router needs to: how long it is (real tokens), and whether it asks
 * for code, math, several steps or a long answer. Two or more signals, or a long prompt, make
 * it complex; a short prompt with none is simple.
 */
export function classifyComplexity(messages: readonly ChatMessage[], maxTokens: number): ComplexityReport {
  let promptTokens = 0;
  let userText = '';
  for (const message of messages) {
    promptTokens += countTokens(message.content) + 3;
    if (message.role === 'user') userText += `${message.content}\n`;
  }
  const signals: string[] = [];
  if (promptTokens > 1_500) signals.push('long_prompt');
  if (CODE.test(userText)) signals.push('code');
  if (MATH.test(userText)) signals.push('math');
  if (MULTI_STEP.test(userText)) signals.push('multi_step');
  if (maxTokens > 1_500 || LONG_OUTPUT.test(userText)) signals.push('long_output');
  const complexity: Complexity =
    signals.length >= 2 || promptTokens > 4_000 ? 'complex' : signals.length === 0 && promptTokens < 300 ? 'simple' : 'moderate';
  return { complexity, promptTokens, signals };
}
