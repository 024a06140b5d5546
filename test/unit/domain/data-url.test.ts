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

  // RFC 2397 lets the data be URL-encoded, and browsers percent-decode it before the base64 (the
  // Fetch Standard's data: URL processor): a URL built with encodeURIComponent is an image too.
  it('reads base64 whose characters are percent-encoded', () => {
    const odd = Buffer.from([0xfb, 0xff, 0xbf, 0x01, 0xfe]);
    expect(odd.toString('base64')).toMatch(/[+/=]/);
    expect(imageOfDataUrl(`data:image/png;base64,${encodeURIComponent(odd.toString('base64'))}`)?.data).toEqual(odd);
    expect(decoded(encodeURIComponent(base64))).toEqual(image);
    expect(decoded(`${base64.slice(0, 20)}%0A${base64.slice(20)}`)).toEqual(image);
    expect(decoded(base64.replace(/A/g, '%41'))).toEqual(image);
  });

  it('refuses a percent-escape that is damaged, or stands for a character base64 does not have', () => {
    for (const payload of [
      `${base64}%`,
      `${base64.slice(0, 20)}%2${base64.slice(20)}`,
      `%ZZ${base64}`,
      `${base64}%21`,
      `%E2%82%AC${base64}`,
    ]) {
      expect(decoded(payload), payload).toBeUndefined();
    }
  });

  it('refuses base64 with a character it does not have, or a lone character at the end', () => {
    for (const payload of [`${base64}*`, `*${base64}`, `${base64.slice(0, 20)}#${base64.slice(20)}`, `${base64}A`]) {
      expect(decoded(payload), payload).toBeUndefined();
    }
  });
});
