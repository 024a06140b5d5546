import { createHash, randomBytes } from 'node:crypto';

/** Runtime keys start with this, so a leaked one is recognisable (secret scanners, logs). */
export const KEY_PREFIX = 'llmo_';

/**
 * A new API key: 32 random bytes (256 bits) from the system's CSPRNG, base64url. Only its
 * SHA-256 is stored. A fast unsalted hash is right here (unlike for passwords): a key this
 * random cannot be guessed or found in a dictionary, so slowing each guess buys nothing, while
 * every call hashes the presented key once and must stay cheap.
 */
export function newApiKey(): { readonly key: string; readonly sha256: string; readonly prefix: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, sha256: sha256Hex(key), prefix: key.slice(0, KEY_PREFIX.length + 6) };
}

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
