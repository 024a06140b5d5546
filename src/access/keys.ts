import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeySpec } from '../config/file.js';
import { apiKeyInvalid, type OrchestratorError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { apiKeysUnread } from '../domain/service-errors.js';
import { modelPattern } from './patterns.js';

/** Where a key is defined: the config file (read-only at runtime) or the database (ApiKeyService). */
export type KeySource = 'config' | 'runtime';

export interface KeyEntry extends Principal {
  readonly digest: Buffer;
  readonly spec: ApiKeySpec;
  readonly patterns: readonly RegExp[];
  /** `admin`: sees every key's ledger rows and may call the admin RPCs. */
  readonly scopes: readonly string[];
  readonly source: KeySource;
}

/**
 * The API keys, stored as SHA-256 digests only: the config file's (replaced on SIGHUP) and the
 * runtime ones from the database (replaced by each refresh). A presented key is hashed and
 * compared with every digest in constant time, so neither the key nor which entry matched
 * leaks through timing. A key revoked in the database is gone from here at the next refresh.
 */
export class ApiKeyStore {
  private configured: readonly KeyEntry[] = [];
  private runtime: readonly KeyEntry[] = [];
  /**
   * The database held a key since start-up (revoked ones count): the service stays closed once its
   * last key is revoked, and when the database comes back without them (a SQLite file deleted and
   * created again, a database restored from before the first key).
   */
  private runtimeIssued = false;
  /** The config file gave a key since start-up: a reload that leaves none (a file emptied, or caught half written) must not open the service. */
  private configIssued = false;
  /**
   * A database may hold keys and has not been read yet (not reachable since start-up): "no key read"
   * is not "no key at all", and the service stays closed until it is read.
   */
  private runtimeUnread = false;
  private entries: readonly KeyEntry[] = [];
  private byName: ReadonlyMap<string, KeyEntry> = new Map();
  private listeners: ((entries: readonly KeyEntry[]) => void)[] = [];

  constructor(specs: readonly ApiKeySpec[]) {
    this.setConfigKeys(specs);
  }

  /** The config file's keys (start-up, SIGHUP). */
  setConfigKeys(specs: readonly ApiKeySpec[]): void {
    this.configured = specs.map((spec) => entryOf(spec, 'config'));
    this.configIssued ||= specs.length > 0;
    this.rebuild();
  }

  /**
   * The database's live (unrevoked) keys; a name the config file also uses stays the file's.
   * `issued`: the database holds any key, revoked ones included. Revoking the last key must not
   * open the service again, where every caller (the revoked key too) would be let in.
   */
  setRuntimeKeys(specs: readonly ApiKeySpec[], issued = false): void {
    this.runtimeUnread = false;
    this.runtime = specs.map((spec) => entryOf(spec, 'runtime'));
    this.runtimeIssued ||= issued || specs.length > 0;
    this.rebuild();
  }

  /** Told the new entries after every change (rate limits follow the keys' limits). */
  onChange(listener: (entries: readonly KeyEntry[]) => void): void {
    this.listeners.push(listener);
  }

  /** A database holds the runtime keys: until it is first read (setRuntimeKeys), the service is closed. */
  awaitRuntimeKeys(): void {
    this.runtimeUnread = true;
  }

  /** The database's keys are not read yet: a caller without a known key may hold one of them. */
  get runtimeKeysUnread(): boolean {
    return this.runtimeUnread;
  }

  get enabled(): boolean {
    return this.keyed || this.runtimeUnread;
  }

  /**
   * Why a caller whose key matched no entry is refused: the key is unknown or missing
   * (UNAUTHENTICATED), or, while the database's keys are not read yet, it may be one of them, or the
   * service may turn out open (UNAVAILABLE, retryable).
   */
  refusal(presented: boolean, header?: string): OrchestratorError {
    return this.runtimeUnread && (presented || !this.keyed) ? apiKeysUnread() : apiKeyInvalid(presented, header);
  }

  /** Closed whatever the database holds. */
  private get keyed(): boolean {
    return this.entries.length > 0 || this.runtimeIssued || this.configIssued;
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

  private rebuild(): void {
    const names = new Set(this.configured.map((e) => e.name));
    this.entries = [...this.configured, ...this.runtime.filter((e) => !names.has(e.name))];
    this.byName = new Map(this.entries.map((e) => [e.name, e]));
    for (const listener of this.listeners) listener(this.entries);
  }
}

function entryOf(spec: ApiKeySpec, source: KeySource): KeyEntry {
  return {
    name: spec.name,
    allowedModels: spec.allowedModels,
    digest: Buffer.from(spec.sha256, 'hex'),
    spec,
    patterns: spec.allowedModels.map(modelPattern),
    scopes: spec.scopes ?? [],
    source,
  };
}

/** The key a caller presented: `authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  return bearer ?? (apiKey?.trim() || undefined);
}
