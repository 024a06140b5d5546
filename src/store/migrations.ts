import { sql, type Kysely, type Migration } from 'kysely';
import { CATALOG_MIGRATION } from './catalog-migration.js';
import { API_KEY_MIGRATIONS } from './api-key-schema.js';

/**
 * Versioned migrations, applied in name order at start-up. Never edit one that shipped: add
 * the next. Both dialects run the same statements (types SQLite maps by affinity).
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_ledger': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ledger_calls')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('request_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('method', 'varchar(128)', (c) => c.notNull())
        .addColumn('protocol', 'varchar(16)', (c) => c.notNull())
        .addColumn('key_name', 'varchar(64)')
        .addColumn('requested_model', 'varchar(128)')
        .addColumn('model', 'varchar(128)')
        .addColumn('provider', 'varchar(64)')
        .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
        .addColumn('code', 'varchar(32)', (c) => c.notNull())
        .addColumn('reason', 'varchar(64)')
        .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
        .addColumn('completion_tokens', 'integer', (c) => c.notNull())
        .addColumn('total_tokens', 'integer', (c) => c.notNull())
        .addColumn('usage_estimated', 'integer', (c) => c.notNull())
        .addColumn('cost_usd', 'double precision', (c) => c.notNull())
        .addColumn('cost_saved_usd', 'double precision', (c) => c.notNull())
        .addColumn('latency_ms', 'double precision', (c) => c.notNull())
        .addColumn('ttft_ms', 'double precision')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('fallback_triggered', 'integer', (c) => c.notNull())
        .addColumn('default_message', 'integer', (c) => c.notNull())
        .addColumn('cache_hit', 'integer', (c) => c.notNull())
        .addColumn('cache_stale', 'integer', (c) => c.notNull())
        .addColumn('route_profile', 'varchar(32)')
        .addColumn('complexity', 'varchar(16)')
        .addColumn('prompt_sha256', 'varchar(64)')
        .addColumn('prompt', 'text')
        .addColumn('answer', 'text')
        .execute();
      await db.schema.createIndex('ledger_calls_ts').on('ledger_calls').column('ts').execute();
      await db.schema.createIndex('ledger_calls_key_ts').on('ledger_calls').columns(['key_name', 'ts']).execute();
      await db.schema.createIndex('ledger_calls_model_ts').on('ledger_calls').columns(['model', 'ts']).execute();
      await db.schema.createIndex('ledger_calls_request_id').on('ledger_calls').column('request_id').execute();

      await db.schema
        .createTable('ledger_attempts')
        .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('model', 'varchar(128)', (c) => c.notNull())
        .addColumn('provider', 'varchar(64)', (c) => c.notNull())
        .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
        .addColumn('code', 'varchar(32)')
        .addColumn('reason', 'varchar(64)')
        .addColumn('latency_ms', 'double precision', (c) => c.notNull())
        .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
        .addColumn('completion_tokens', 'integer', (c) => c.notNull())
        .addColumn('total_tokens', 'integer', (c) => c.notNull())
        .addColumn('usage_estimated', 'integer', (c) => c.notNull())
        .addColumn('cost_usd', 'double precision', (c) => c.notNull())
        .addColumn('retry', 'integer', (c) => c.notNull())
        .addColumn('raced', 'integer', (c) => c.notNull())
        .addColumn('lost', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_attempts_pk', ['call_id', 'seq'])
        .execute();
      await db.schema.createIndex('ledger_attempts_ts').on('ledger_attempts').column('ts').execute();
      await db.schema.createIndex('ledger_attempts_model_ts').on('ledger_attempts').columns(['model', 'ts']).execute();

      await db.schema
        .createTable('ledger_decisions')
        .addColumn('call_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('profile', 'varchar(32)', (c) => c.notNull())
        .addColumn('complexity', 'varchar(16)', (c) => c.notNull())
        .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
        .addColumn('chosen_model', 'varchar(128)', (c) => c.notNull())
        .addColumn('candidates', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ledger_decisions_ts').on('ledger_decisions').column('ts').execute();
      await db.schema.createIndex('ledger_decisions_profile_ts').on('ledger_decisions').columns(['profile', 'ts']).execute();
    },
  },
  '0002_catalog': CATALOG_MIGRATION,
  ...API_KEY_MIGRATIONS,
  // No query reads attempts or decisions by time, model or profile: they are reached through
  // their call (ListCalls by call id, routing analytics joined on it, retention by call id), so
  // these four indexes only cost every write (about 1.3 of the 12.5 µs a unary call's rows take
  // on SQLite's writer thread).
  '0004_drop_unread_ledger_indexes': {
    async up(db: Kysely<unknown>) {
      for (const index of ['ledger_attempts_ts', 'ledger_attempts_model_ts', 'ledger_decisions_ts', 'ledger_decisions_profile_ts']) {
        await db.schema.dropIndex(index).ifExists().execute();
      }
    },
  },
  // A Batch records each routed item's decision, keyed by (call_id, seq), with the item's own
  // outcome, answering model, latency and fallback (null: the call's). SQLite cannot change a
  // primary key in place: the table is rebuilt in both dialects, its rows kept with seq 0.
  '0005_batch_item_decisions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ledger_decisions_0005')
        .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('profile', 'varchar(32)', (c) => c.notNull())
        .addColumn('complexity', 'varchar(16)', (c) => c.notNull())
        .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
        .addColumn('chosen_model', 'varchar(128)', (c) => c.notNull())
        .addColumn('candidates', 'text', (c) => c.notNull())
        .addColumn('outcome', 'varchar(16)')
        .addColumn('model', 'varchar(128)')
        .addColumn('latency_ms', 'double precision')
        .addColumn('fallback_triggered', 'integer')
        .addPrimaryKeyConstraint('ledger_decisions_pk', ['call_id', 'seq'])
        .execute();
      await sql`insert into ledger_decisions_0005 (call_id, ts, seq, profile, complexity, prompt_tokens, chosen_model, candidates)
        select call_id, ts, 0, profile, complexity, prompt_tokens, chosen_model, candidates from ledger_decisions`.execute(db);
      await db.schema.dropTable('ledger_decisions').execute();
      await db.schema.alterTable('ledger_decisions_0005').renameTo('ledger_decisions').execute();
    },
  },
  // Calls and attempts keep the usage detail an answer carries: prompt tokens the provider's cache
  // served and those it wrote to it, completion tokens spent reasoning. Rows from before read 0
  // (nothing was recorded). A constant default is metadata only in PostgreSQL (11 and later) and
  // in SQLite: no table is rewritten, however large. SQLite adds one column per statement.
  '0006_ledger_token_detail': {
    async up(db: Kysely<unknown>) {
      for (const table of ['ledger_calls', 'ledger_attempts']) {
        for (const column of ['cached_tokens', 'cache_write_tokens', 'reasoning_tokens']) {
          await db.schema
            .alterTable(table)
            .addColumn(column, 'integer', (c) => c.notNull().defaultTo(0))
            .execute();
        }
      }
    },
  },
};
