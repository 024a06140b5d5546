import type { Kysely, Selectable } from 'kysely';
import type { ApiKeySpec } from '../config/file.js';
import type { ApiKeysTable } from './api-key-schema.js';
import type { LedgerSchema } from './schema.js';

/** A runtime API key as the database keeps it (never the key itself). */
export interface StoredApiKey {
  readonly name: string;
  readonly sha256: string;
  readonly keyPrefix: string;
  readonly allowedModels: readonly string[];
  readonly limits: { readonly requestsPerMinute: number | undefined; readonly tokensPerMinute: number | undefined };
  readonly budgets: { readonly usdPerDay: number | undefined; readonly usdPerMonth: number | undefined };
  readonly scopes: readonly string[];
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly revokedAt: number | undefined;
}

/** The parts UpdateApiKey may replace; undefined: unchanged. */
export interface ApiKeyChanges {
  readonly allowedModels?: readonly string[] | undefined;
  readonly limits?: StoredApiKey['limits'] | undefined;
  readonly budgets?: StoredApiKey['budgets'] | undefined;
  readonly scopes?: readonly string[] | undefined;
}

type Db = Kysely<LedgerSchema>;

/** Every runtime key, revoked ones included, by name. */
export async function listApiKeys(db: Db): Promise<StoredApiKey[]> {
  const rows = await db.selectFrom('api_keys').selectAll().execute();
  // Sorted here, not by ORDER BY: PostgreSQL's order is the database's collation, SQLite's the bytes'.
  return rows.map(fromRow).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function findApiKey(db: Db, name: string): Promise<StoredApiKey | undefined> {
  const row = await db.selectFrom('api_keys').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** False when the name (or, against all odds, the hash) is taken, by another replica too. */
export async function insertApiKey(db: Db, key: StoredApiKey): Promise<boolean> {
  if (await findApiKey(db, key.name)) return false;
  try {
    await db.insertInto('api_keys').values(toRow(key)).execute();
    return true;
  } catch (err) {
    // Another replica inserted the same name between our check and our insert.
    if (await findApiKey(db, key.name)) return false;
    throw err;
  }
}

/** The key as the update left it; undefined when it is revoked (or unknown), which is left as it is. */
export async function updateApiKey(db: Db, name: string, changes: ApiKeyChanges, now: number): Promise<StoredApiKey | undefined> {
  const set: Partial<Selectable<ApiKeysTable>> = { updated_at: now };
  if (changes.allowedModels) set.allowed_models = JSON.stringify(changes.allowedModels);
  if (changes.scopes) set.scopes = JSON.stringify(changes.scopes);
  if (changes.limits) {
    set.requests_per_minute = changes.limits.requestsPerMinute ?? null;
    set.tokens_per_minute = changes.limits.tokensPerMinute ?? null;
  }
  if (changes.budgets) {
    set.usd_per_day = changes.budgets.usdPerDay ?? null;
    set.usd_per_month = changes.budgets.usdPerMonth ?? null;
  }
  // One statement: a revoke by another call or replica since the caller found the key live is not
  // overwritten, and the answer is the row this update wrote, not one revoked after it.
  const row = await db
    .updateTable('api_keys')
    .set(set)
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** The key as this revoke left it; undefined when it was revoked already (or is unknown), which keeps its first time. */
export async function revokeApiKey(db: Db, name: string, now: number): Promise<StoredApiKey | undefined> {
  const row = await db
    .updateTable('api_keys')
    .set({ revoked_at: now, updated_at: now })
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

function toRow(k: StoredApiKey): Selectable<ApiKeysTable> {
  return {
    name: k.name,
    sha256: k.sha256,
    key_prefix: k.keyPrefix,
    allowed_models: JSON.stringify(k.allowedModels),
    requests_per_minute: k.limits.requestsPerMinute ?? null,
    tokens_per_minute: k.limits.tokensPerMinute ?? null,
    usd_per_day: k.budgets.usdPerDay ?? null,
    usd_per_month: k.budgets.usdPerMonth ?? null,
    scopes: JSON.stringify(k.scopes),
    created_at: k.createdAt,
    updated_at: k.updatedAt,
    revoked_at: k.revokedAt ?? null,
  };
}

/** PostgreSQL returns bigint columns as strings. */
function fromRow(r: Selectable<ApiKeysTable>): StoredApiKey {
  const num = (v: number | string | null): number | undefined => (v === null ? undefined : Number(v));
  return {
    name: r.name,
    sha256: r.sha256,
    keyPrefix: r.key_prefix,
    allowedModels: JSON.parse(r.allowed_models) as string[],
    limits: { requestsPerMinute: num(r.requests_per_minute), tokensPerMinute: num(r.tokens_per_minute) },
    budgets: { usdPerDay: num(r.usd_per_day), usdPerMonth: num(r.usd_per_month) },
    scopes: JSON.parse(r.scopes) as string[],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    revokedAt: num(r.revoked_at),
  };
}

/** A stored key as the access layer takes keys (the config file's shape). */
export function specOfStored(k: StoredApiKey): ApiKeySpec {
  return {
    name: k.name,
    sha256: k.sha256,
    allowedModels: k.allowedModels,
    limits: k.limits,
    budgets: k.budgets,
    scopes: k.scopes.filter((s): s is 'admin' => s === 'admin'),
  };
}
