import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeySpec } from '../config/file.js';
import type { Principal } from '../domain/principal.js';
import { modelPattern } from './patterns.js';

export interface KeyEntry extends Principal {
  readonly digest: Buffer;
  readonly spec: ApiKeySpec;
  readonly patterns: readonly RegExp[];
  /** `admin`: sees every key's ledger rows. */
  readonly scopes: readonly string[];
}

/**
 * The configured API keys, stored as SHA-256 digests only. A presented key is hashed and
 * compared with every digest in constant time, so neither the key nor which entry matched
 * leaks through timing.
 */
export class ApiKeyStore {
  private readonly entries: readonly KeyEntry[];
  private readonly byName: ReadonlyMap<string, KeyEntry>;

  constructor(specs: readonly ApiKeySpec[]) {
    this.entries = specs.map((spec) => ({
      name: spec.name,
      allowedModels: spec.allowedModels,
      digest: Buffer.from(spec.sha256, 'hex'),
      spec,
      patterns: spec.allowedModels.map(modelPattern),
      scopes: spec.scopes ?? [],
    }));
    this.byName = new Map(this.entries.map((e) => [e.name, e]));
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** The entry whose digest matches the presented key, or undefined. */
  authenticate(presented: string): KeyEntry | undefined {
    const digest = createHash('sha256').update(presented).digest();
    let found: KeyEntry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest) && !found) found = entry;
    }
    return found;
  }

  all(): readonly KeyEntry[] {
    return this.entries;
  }

  byKeyName(name: string): KeyEntry | undefined {
    return this.byName.get(name);
  }
}

/** The key a caller presented: `authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  return bearer ?? (apiKey?.trim() || undefined);
}
