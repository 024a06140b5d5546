import { describe, expect, it } from 'vitest';
import { breakpointsOf, PromptCacheBook } from '../../../src/simulator/prompt-cache.js';

const body = (system: string, question: string, ttl?: '1h') => ({
  system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral', ...(ttl ? { ttl } : {}) } }],
  messages: [{ role: 'user', content: question }],
});
const DOC = 'x'.repeat(400);

describe("the simulator's prompt cache", () => {
  it('has no breakpoint for a request without markers', () => {
    expect(breakpointsOf({ system: DOC, messages: [{ role: 'user', content: 'q' }] }, 'm')).toEqual([]);
  });

  it('writes a marked prefix, then reads it for the same model until it expires', () => {
    const book = new PromptCacheBook();
    const points = breakpointsOf(body(DOC, 'a'), 'm');
    expect(points).toEqual([{ key: expect.any(String), tokens: 103, hour: false, earlier: [] }]);
    expect(book.use(points, 110, 0)).toEqual({ read: 0, written5m: 103, written1h: 0 });
    expect(book.use(breakpointsOf(body(DOC, 'another question'), 'm'), 112, 60_000)).toEqual({ read: 103, written5m: 0, written1h: 0 });
    expect(book.use(breakpointsOf(body(DOC, 'a'), 'other-model'), 110, 60_000).read).toBe(0);
    // Read at one minute, so kept until six.
    expect(book.use(points, 110, 6 * 60_000 + 1).read).toBe(0);
  });

  it('counts an hour-long write apart and keeps it for the hour', () => {
    const book = new PromptCacheBook();
    const points = breakpointsOf(body(DOC, 'a', '1h'), 'm');
    expect(book.use(points, 110, 0)).toEqual({ read: 0, written5m: 0, written1h: 103 });
    expect(book.use(points, 110, 30 * 60_000).read).toBe(103);
  });

  it('holds at most its bound of prefixes, the least recently used going first', () => {
    const book = new PromptCacheBook(2);
    const a = breakpointsOf(body('a'.repeat(40), 'q'), 'm');
    const b = breakpointsOf(body('b'.repeat(40), 'q'), 'm');
    const c = breakpointsOf(body('c'.repeat(40), 'q'), 'm');
    book.use(a, 20, 0);
    book.use(b, 20, 0);
    book.use(a, 20, 0);
    book.use(c, 20, 0);
    expect(book.use(a, 20, 0).read).toBeGreaterThan(0);
    expect(book.use(b, 20, 0).read).toBe(0);
  });
});

describe("the simulator's prompt cache at each place the gateway puts a marker", () => {
  const MARK = { type: 'ephemeral' };
  const TOOL = { name: 'get', description: DOC, input_schema: { type: 'object', properties: {} } };
  const call = { type: 'tool_use', id: 'call_1', name: 'get', input: {} };
  /** A tool call and its result, then (for the later request) one more exchange after it. */
  const conversation =
    (marked: { tool?: object; system?: object; part?: object; call?: object; result?: object; resultPart?: object }) =>
    (later: boolean) => ({
      tools: [{ ...TOOL, ...marked.tool }],
      system: [{ type: 'text', text: DOC, ...marked.system }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: DOC, ...marked.part }] },
        { role: 'assistant', content: [{ ...call, ...marked.call }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: DOC, ...marked.resultPart }], ...marked.result },
          ],
        },
        ...(later
          ? [
              { role: 'assistant', content: 'Sunny.' },
              { role: 'user', content: 'And tomorrow?' },
            ]
          : []),
      ],
    });

  it.each([
    ['a tool', { tool: { cache_control: MARK } }],
    ['a system block', { system: { cache_control: MARK } }],
    ["a message's content part", { part: { cache_control: MARK } }],
    ["a message's last block (its tool call)", { call: { cache_control: MARK } }],
    ['a tool_result block', { result: { cache_control: MARK } }],
    ["a tool_result's content part", { resultPart: { cache_control: MARK } }],
  ])('a marker on %s: the first request writes the prefix, the next with that prefix reads it', (_where, marked) => {
    const book = new PromptCacheBook();
    const request = conversation(marked);
    const first = book.use(breakpointsOf(request(false), 'm'), 10_000, 0);
    expect(first.read).toBe(0);
    expect(first.written5m).toBeGreaterThan(90);
    expect(book.use(breakpointsOf(request(true), 'm'), 10_000, 1000)).toEqual({ read: first.written5m, written5m: 0, written1h: 0 });
  });

  it("counts a tool_result's marked part as the prefix up to and including it", () => {
    const result = (parts: object[]) => ({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [call] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: parts }] },
      ],
    });
    const [point] = breakpointsOf(
      result([
        { type: 'text', text: DOC, cache_control: MARK },
        { type: 'text', text: DOC },
      ]),
      'm',
    );
    const [whole] = breakpointsOf(
      result([
        { type: 'text', text: DOC },
        { type: 'text', text: DOC, cache_control: MARK },
      ]),
      'm',
    );
    // Before it: 'q' (1 + 3) and the call's turn (1 + 3); then 100 tokens of text and the result's 3.
    expect(point?.tokens).toBe(8 + 103);
    expect(whole?.tokens).toBe(8 + 203);
    // Where the marker stands is no part of the prefix: the same blocks unmarked read what it wrote.
    const book = new PromptCacheBook();
    book.use([point!], 10_000, 0);
    const [again] = breakpointsOf(
      result([
        { type: 'text', text: DOC, cache_control: MARK },
        { type: 'text', text: 'other', cache_control: MARK },
      ]),
      'm',
    );
    expect(again?.key).toBe(point?.key);
  });
});

describe("the simulator's prompt cache reads back from a request's markers", () => {
  const MARK = { type: 'ephemeral' };
  const exchange = (n: number, marked: boolean) => [
    { role: 'assistant', content: [{ type: 'tool_use', id: `call_${n}`, name: 'get', input: {} }] },
    {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: `call_${n}`,
          content: [{ type: 'text', text: DOC, ...(marked ? { cache_control: MARK } : {}) }],
        },
      ],
    },
  ];

  it('reads a prefix written at an earlier marker when the marker has moved to the newest tool result', () => {
    const book = new PromptCacheBook();
    const first = book.use(breakpointsOf({ messages: [{ role: 'user', content: 'q' }, ...exchange(1, true)] }, 'm'), 10_000, 0);
    const second = book.use(
      breakpointsOf({ messages: [{ role: 'user', content: 'q' }, ...exchange(1, false), ...exchange(2, true)] }, 'm'),
      10_000,
      1000,
    );
    expect(second.read).toBe(first.written5m);
    // What follows the prefix read, up to the new marker: the second call's turn (4) and its result (103).
    expect(second.written5m).toBe(107);
  });

  it('looks no further back than 20 blocks', () => {
    const book = new PromptCacheBook();
    const start = [{ role: 'user', content: 'q' }, ...exchange(1, true)];
    book.use(breakpointsOf({ messages: start }, 'm'), 10_000, 0);
    const blocks = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'text', text: `note ${i}` }));
    const later = (n: number) => ({
      messages: [
        ...start.slice(0, 1),
        ...exchange(1, false),
        { role: 'assistant', content: 'Sunny.' },
        { role: 'user', content: [...blocks(n - 1), { type: 'text', text: 'last', cache_control: MARK }] },
      ],
    });
    // Back from the marker: n - 1 notes, 'Sunny.', the result's end, then its marked part, n + 2 blocks back.
    expect(book.use(breakpointsOf(later(18), 'm'), 10_000, 1000).read).toBeGreaterThan(100);
    expect(new PromptCacheBook().use(breakpointsOf(later(18), 'm'), 10_000, 1000).read).toBe(0);
    book.use(breakpointsOf({ messages: start }, 'm'), 10_000, 2000);
    expect(book.use(breakpointsOf(later(19), 'm'), 10_000, 3000).read).toBe(0);
  });
});
