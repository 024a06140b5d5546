/**
 * A URL's password masked, for logs and messages: `redis://:secret@host` reads
 * `redis://:***@host`. A regular expression, not URL parsing, so that a URL too broken to parse
 * (the one a configuration error is about) is masked too. The password runs to the last `@`:
 * a generated password often holds `/` or `@` that was not percent-encoded, which is what made
 * the URL unparseable, and it must not be shown then either.
 */
export function maskUrlPassword(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*:)\S*@/, '$1***@');
}
