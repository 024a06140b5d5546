import { randomUUID } from 'node:crypto';

/**
 * A new id for a call or a request: a version 7 UUID, whose leading 48 bits are the time in
 * milliseconds, so the ledger's primary keys and its request-id index grow at their end instead
 * of at random pages (with random v4 ids an insert touches a random leaf of each index, which
 * made writing the ledger several times dearer once it held a few hundred thousand rows).
 *
 * The random part comes from randomUUID, which draws from a pooled entropy buffer (a fresh
 * 16-byte draw per id cost more than the rest of the id); its variant bits are the ones v7
 * needs, so only the time and the version digit are written over.
 */
export function timeOrderedId(): string {
  const now = Date.now();
  // The time part is the same for every id of one millisecond (several at a few thousand calls a second).
  if (now !== prefixMs) {
    const time = now.toString(16).padStart(12, '0');
    prefix = `${time.slice(0, 8)}-${time.slice(8)}-7`;
    prefixMs = now;
  }
  return prefix + randomUUID().slice(15);
}

let prefixMs = -1;
let prefix = '';
