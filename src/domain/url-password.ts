/**
 * A URL's password masked, for logs and messages: `redis://:secret@host` reads
 * `redis://:***@host`. A regular expression, not URL parsing, so that a URL too broken to parse
 * (the one a configuration error is about) is masked too. The password runs to the last `@`:
 * a generated password often holds `/` or `@` that was not percent-encoded, which is what made
 * the URL unparseable, and it must not be shown then either. A text with no `scheme://` is
 * masked from its start (`user:secret@proxy:3128`, the spelling curl and Go take for a proxy);
 * a password there cannot begin with `/`, so a path holding an `@` (`sqlite:/srv/a@b.db`) is left.
 * A `password` query parameter is masked too: node-postgres and ioredis read a password there.
 */
export function maskUrlPassword(text: string): string {
  return text
    .replace(/(\/\/[^/:@\s]*:)\S*@|^(?![a-z][a-z\d+.-]*:\/\/)([^/:@\s]*:)(?!\/)\S*@/i, (_match, withScheme?: string, bare?: string) => {
      return `${withScheme ?? bare ?? ''}***@`;
    })
    .replace(/([?&]password=)[^&#\s]*/gi, '$1***');
}
