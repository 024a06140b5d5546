import { createHash } from 'node:crypto';

/** How many characters withIdDigest adds to what it keeps: `_` and 8 hex digits. */
export const ID_DIGEST_CHARS = 9;

/**
 * A tool call id an upstream would refuse, rewritten as what of it the upstream takes (`kept`)
 * and a digest of the whole: the same for a call and the result that answers it, and two ids
 * that differ only in what was dropped stay two.
 */
export function withIdDigest(kept: string, id: string): string {
  return `${kept}_${createHash('sha256')
    .update(id)
    .digest('hex')
    .slice(0, ID_DIGEST_CHARS - 1)}`;
}
