import { describe, expect, it } from 'vitest';
import { characterCount, longerThan } from '../../../src/domain/characters.js';
import { checkSampling, checkTags } from '../../../src/domain/chat.js';

describe('characters', () => {
  it('are code points: an emoji or a character past the BMP is one, a lone surrogate one, a ZWJ sequence its parts', () => {
    expect(characterCount('')).toBe(0);
    expect(characterCount('abc')).toBe(3);
    expect(characterCount('é中')).toBe(2);
    expect(characterCount('😀𠀀')).toBe(2);
    expect(characterCount('\ud83d')).toBe(1);
    expect(characterCount('\ude00\ud83d')).toBe(2);
    expect(characterCount('a\ud83d😀')).toBe(3);
    expect(characterCount('👨\u200d👩\u200d👧')).toBe(5);
    expect(longerThan('😀'.repeat(4), 4)).toBe(false);
    expect(longerThan('😀'.repeat(5), 4)).toBe(true);
  });

  it('bound stop sequences, user and tags as the docs count them', () => {
    const at = (name: string) => `sampling.${name}`;
    expect(checkSampling({ stop: ['😀'.repeat(256)], user: '中😀'.repeat(128) }, at).violations).toEqual([]);
    expect(checkSampling({ stop: ['😀'.repeat(257)], user: '😀'.repeat(257) }, at).violations).toEqual([
      { field: 'sampling.stop[0]', description: 'must be at most 256 characters (got 257)' },
      { field: 'sampling.user', description: 'must be at most 256 characters (got 257)' },
    ]);
    expect(checkTags({ ['😀'.repeat(64)]: '😀'.repeat(512) }, 'metadata').violations).toEqual([]);
    expect(checkTags({ ['😀'.repeat(65)]: 'v' }, 'metadata').violations).toEqual([
      { field: 'metadata', description: 'keys must be 1 to 64 characters (got one of 65)' },
    ]);
  });
});
