/**
 * Text as both ledger databases keep it alike. PostgreSQL's text holds no NUL character and no
 * lone surrogate (half of a UTF-16 pair, as when a string is cut inside a character); SQLite
 * keeps a NUL and writes a lone surrogate as bytes that are not UTF-8, which read back as three
 * replacement characters. Each becomes one U+FFFD in both, as a bound parameter's UTF-8
 * encoding would have made it.
 */
export function storableText(value: string): string {
  const formed = (value as string & { isWellFormed(): boolean; toWellFormed(): string }).isWellFormed()
    ? value
    : (value as string & { toWellFormed(): string }).toWellFormed();
  return formed.includes('\0') ? formed.replaceAll('\0', '\uFFFD') : formed;
}
