import type { Kysely, Migration } from 'kysely';

/** Runtime models, sync runs and synced catalog rows (see catalog-schema.ts). */
export const CATALOG_MIGRATION: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('catalog_runtime_models')
      .addColumn('id', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('definition', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('catalog_runtime_history')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('model_id', 'varchar(128)', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('definition', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('catalog_runtime_history_model_at').on('catalog_runtime_history').columns(['model_id', 'at']).execute();

    await db.schema
      .createTable('catalog_sync_runs')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('source', 'varchar(32)', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint', (c) => c.notNull())
      .addColumn('ok', 'integer', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('models', 'integer', (c) => c.notNull())
      .addColumn('matched_count', 'integer', (c) => c.notNull())
      .addColumn('unmatched_count', 'integer', (c) => c.notNull())
      .addColumn('matched', 'text', (c) => c.notNull())
      .addColumn('unmatched', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('catalog_sync_runs_source_started').on('catalog_sync_runs').columns(['source', 'started_at']).execute();

    await db.schema
      .createTable('catalog_synced_models')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('source', 'varchar(32)', (c) => c.notNull())
      .addColumn('external_id', 'varchar(256)', (c) => c.notNull())
      .addColumn('catalog_id', 'varchar(256)')
      .addColumn('run_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('fetched_at', 'bigint', (c) => c.notNull())
      .addColumn('current', 'integer', (c) => c.notNull())
      .addColumn('values_json', 'text', (c) => c.notNull())
      .addColumn('raw', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('catalog_synced_models_current').on('catalog_synced_models').columns(['current', 'source']).execute();
    await db.schema
      .createIndex('catalog_synced_models_catalog_id')
      .on('catalog_synced_models')
      .columns(['catalog_id', 'first_seen_at'])
      .execute();
  },
};
