import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../../src/domain/chat.js';
import { EXACT_CHARS, SIGNAL_WINDOW_CHARS, classifyComplexity, loadTokenizer } from '../../../src/engine/routing/complexity.js';

const user = (content: string): ChatMessage[] => [{ role: 'user', content }];

/** A flat copy: `repeat` builds a rope that V8 flattens on first read, which is the test's cost, not ours. */
const flat = (text: string): string => Buffer.from(text, 'utf8').toString('utf8');

/** Best of three, so a pause of this busy machine does not count; a quadratic pattern takes seconds every time. */
function fastestMs(messages: readonly ChatMessage[]): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    classifyComplexity(messages, 100);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

const CJK_BLOCK = Array.from({ length: 20_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
const rareCjk = (n: number): string => CJK_BLOCK.repeat(Math.ceil(n / CJK_BLOCK.length)).slice(0, n);

describe('classification cost is bounded whatever the prompt', () => {
  beforeAll(() => loadTokenizer());

  it('classifies 50,000 characters of one letter and newlines in milliseconds (it took seconds)', () => {
    expect(fastestMs(user(flat(`a${'\n'.repeat(50_000)}`)))).toBeLessThan(50);
    expect(fastestMs(user(flat('a\n'.repeat(25_000))))).toBeLessThan(50);
  });

  it.each([
    ['spaces between digits', (n: number) => `1${' '.repeat(n)}x`],
    ['one long word', (n: number) => 'a'.repeat(n)],
    ['rare CJK characters', rareCjk],
    ['"first" without "then"', (n: number) => 'first '.repeat(n / 6)],
    ['one numbered line, then blank lines', (n: number) => `1. a${'\n'.repeat(n)}`],
    ['braces', (n: number) => '{'.repeat(n)],
    ['digits', (n: number) => '9'.repeat(n)],
  ])('classifies 2 MB of %s in milliseconds', (_name, make) => {
    expect(fastestMs(user(flat(make(2_000_000))))).toBeLessThan(50);
  });

  it('counts short prompts exactly and estimates long ones closely', () => {
    const short = 'Hello world, how are you doing today? '.repeat(20);
    expect(short.length).toBeLessThan(EXACT_CHARS);
    expect(classifyComplexity(user(short), 100).promptTokens).toBe(countTokens(short) + 3);
    const long = flat(
      Array.from(
        { length: 3_000 },
        (_, i) => `Paragraph ${i}: the river carries sediment downstream, and the delta grows by ${i % 97} metres.`,
      ).join('\n'),
    );
    const exact = countTokens(long) + 3;
    const estimated = classifyComplexity(user(long), 100).promptTokens;
    expect(Math.abs(estimated - exact) / exact).toBeLessThan(0.1);
  });

  it('still sees what a long prompt asks for at its start and at its end', () => {
    const filler = 'The river carries sediment downstream. '.repeat((2 * SIGNAL_WINDOW_CHARS) / 10);
    expect(classifyComplexity(user(`${filler}\nNow write the function:\n\`\`\`\nconst x = 1;\n\`\`\``), 100).signals).toContain('code');
    expect(classifyComplexity(user(`Explain step by step.\n${filler}`), 100).signals).toContain('multi_step');
    expect(classifyComplexity(user(`1. Read this.\n2. Summarise it.\n${filler}`), 100).signals).toContain('multi_step');
    expect(classifyComplexity(user('First read the text, then summarise it.'), 100).signals).toContain('multi_step');
    expect(classifyComplexity(user('First read the text.\nThen summarise it.'), 100).signals).not.toContain('multi_step');
  });
});
