import { describe, expect, it } from 'vitest';
import { imageOfDataUrl } from '../../../src/domain/conversation.js';

/** 51 bytes: 68 characters of base64, no padding, so a single extra character makes 69. */
const image = Buffer.from(Array.from({ length: 51 }, (_, i) => (i * 37 + 11) % 256));
const base64 = image.toString('base64');

function decoded(payload: string): Buffer | undefined {
  const found = imageOfDataUrl(`data:image/png;base64,${payload}`);
  return found ? Buffer.from(found.data) : undefined;
}

describe('imageOfDataUrl', () => {
  it('reads base64 with white space anywhere in it, as RFC 2045 writes it', () => {
    expect(base64.length % 4).toBe(0);
    for (const payload of [
      `${base64}\n`,
      `${base64}\r\n`,
      ` ${base64}`,
      `${base64.slice(0, 20)}\n${base64.slice(20)}`,
      base64.replace(/(.{4})/g, '$1\n'),
    ]) {
      expect(decoded(payload), JSON.stringify(payload)).toEqual(image);
    }
  });

  it('reads URL-safe and unpadded base64', () => {
    const odd = Buffer.from([0xfb, 0xff, 0xbf, 0x01]);
    expect(imageOfDataUrl(`data:image/png;base64,${odd.toString('base64url')}`)?.data).toEqual(odd);
    expect(imageOfDataUrl(`data:image/png;base64,${odd.toString('base64').replace(/=+$/, '')}`)?.data).toEqual(odd);
  });

  it('refuses base64 with a character it does not have, or a lone character at the end', () => {
    for (const payload of [`${base64}*`, `*${base64}`, `${base64.slice(0, 20)}#${base64.slice(20)}`, `${base64}A`]) {
      expect(decoded(payload), payload).toBeUndefined();
    }
  });
});
