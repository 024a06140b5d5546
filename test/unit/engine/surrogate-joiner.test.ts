import { describe, expect, it } from 'vitest';
import { SurrogateJoiner, type TextDelta } from '../../../src/engine/surrogate-joiner.js';

const text = (content: string): TextDelta => ({ type: 'delta', content });
const args = (index: number, piece: string, first?: { id: string; name: string }): TextDelta => ({
  type: 'delta',
  content: '',
  toolCall: { index, ...first, arguments: piece },
});

const refusal = (piece: string): TextDelta => ({ type: 'delta', content: '', refusal: piece });

function relay(joiner: SurrogateJoiner, deltas: readonly TextDelta[]): TextDelta[] {
  return [...deltas.flatMap((d) => joiner.pass(d) ?? []), ...joiner.flush()];
}

describe('SurrogateJoiner', () => {
  it('relays a delta that ends in a whole character as the same object', () => {
    const delta = text('say 😀');
    expect(new SurrogateJoiner().pass(delta)).toBe(delta);
  });

  it('holds a trailing high surrogate for the next text delta, across tool-call pieces', () => {
    const out = relay(new SurrogateJoiner(), [text('a\ud83d'), args(0, '{}', { id: 'c', name: 'f' }), text('\ude00b')]);
    expect(out).toEqual([text('a'), args(0, '{}', { id: 'c', name: 'f' }), text('😀b')]);
  });

  it('drops a delta that was only the first half and sends nothing empty', () => {
    expect(relay(new SurrogateJoiner(), [text('\ud83d'), text('\ude00')])).toEqual([text('😀')]);
  });

  it('rejoins the arguments of each tool call by index, even interleaved, keeping a first piece with no arguments left', () => {
    const out = relay(new SurrogateJoiner(), [
      args(0, '\ud83d', { id: 'c0', name: 'f' }),
      args(1, '"\ud83d'),
      args(0, '\ude00'),
      args(1, '\ude03"'),
    ]);
    expect(out).toEqual([args(0, '', { id: 'c0', name: 'f' }), args(1, '"'), args(0, '😀'), args(1, '😃"')]);
  });

  it('rejoins a refusal split between its pieces, apart from the text, and flushes a half it held', () => {
    const out = relay(new SurrogateJoiner(), [refusal('no \ud83d'), text('a\ud83d'), refusal('\ude00 sorry'), refusal('\ud83d')]);
    expect(out).toEqual([refusal('no '), text('a'), refusal('😀 sorry'), text('\ud83d'), refusal('\ud83d')]);
  });

  it('flushes what nothing completed as it came, and then holds nothing', () => {
    const joiner = new SurrogateJoiner();
    expect(relay(joiner, [text('a\ud83d'), args(2, 'x\ud83d')])).toEqual([text('a'), args(2, 'x'), text('\ud83d'), args(2, '\ud83d')]);
    expect(joiner.flush()).toEqual([]);
  });
});
