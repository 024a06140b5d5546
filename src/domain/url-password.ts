/**
 * A URL's password masked, for logs and messages: `redis://:secret@host` reads
 * `redis://:***@host`. A regular expression, not URL parsing, so that a URL too broken to parse
 * (the one a configuration error is about) is masked too.
 */
export function maskUrlPassword(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*:)[^/\s]*@/, '$1***@');
}
