/**
 * A text's length in characters, as the limits in the contract and the docs count them: Unicode
 * code points, as a caller's own language counts them (Python's len, Go's RuneCountInString),
 * not UTF-16 code units (String.length), which count an emoji or a rare CJK character as two.
 * A lone surrogate counts as one.
 */
export function characterCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) {
      count--;
      i++;
    }
  }
  return count;
}

/** Whether `text` holds more than `max` characters; String.length settles most texts without a count. */
export function longerThan(text: string, max: number): boolean {
  return text.length > max && characterCount(text) > max;
}

/** The first half of a UTF-16 surrogate pair: text cut after it holds half a character. */
export const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

export const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/**
 * `text` cut to at most `maxBytes` of UTF-8, `…` included, by code point: never between the
 * halves of a surrogate pair (grpc-js percent-encodes a status message, and a lone half cannot be).
 * For what quotes a caller's own text (a status, a log line, an HTTP error), which one request
 * must not make as large as its body.
 */
export function clipUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  let room = maxBytes - ELLIPSIS_BYTES;
  let end = 0;
  for (const char of text) {
    room -= Buffer.byteLength(char);
    if (room < 0) break;
    end += char.length;
  }
  return `${text.slice(0, end)}…`;
}

/** What `…`, the mark of a cut, takes in UTF-8. */
const ELLIPSIS_BYTES = 3;
