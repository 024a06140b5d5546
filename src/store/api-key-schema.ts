import type { Kysely, Migration } from 'kysely';

/**
 * Runtime API keys (ApiKeyService), shared by every replica through the ledger database. Only
 * the key's SHA-256 is kept. A revoked key keeps its row (revoked_at set), so its name is never
 * given to another key and the ledger's rows stay attributable.
 */
export interface ApiKeysTable {
  name: string;
  /** Hex SHA-256 of the key. */
  sha256: string;
  /** The key's first characters, to recognise it in a list. */
  key_prefix: string;
  /** JSON array of model patterns. */
  allowed_models: string;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  usd_per_day: number | null;
  usd_per_month: number | null;
  /** JSON array of scopes. */
  scopes: string;
  /** Epoch ms. */
  created_at: number;
  updated_at: number;
  revoked_at: number | null;
}

export const API_KEY_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0003_api_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_keys')
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('sha256', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('key_prefix', 'varchar(16)', (c) => c.notNull())
        .addColumn('allowed_models', 'text', (c) => c.notNull())
        .addColumn('requests_per_minute', 'integer')
        .addColumn('tokens_per_minute', 'integer')
        .addColumn('usd_per_day', 'double precision')
        .addColumn('usd_per_month', 'double precision')
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('api_keys_updated_at').on('api_keys').column('updated_at').execute();
    },
  },
};
