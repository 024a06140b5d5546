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
