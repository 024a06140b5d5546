import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { describeTarget } from '../../../src/store/url.js';

const problems = (env: Record<string, string>): readonly string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('DATABASE_URL and LEDGER_*', () => {
  it('defaults to an embedded SQLite file, hashes nothing, keeps 30 days', () => {
    expect(loadConfig({}).ledger).toMatchObject({
      target: { kind: 'sqlite', file: './data/orchestrator.db' },
      content: 'none',
      retentionDays: 30,
    });
  });

  it('reads off, memory, a SQLite path and PostgreSQL URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'off' }).ledger.target).toEqual({ kind: 'off' });
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).ledger.target).toEqual({ kind: 'sqlite', file: ':memory:' });
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/llmo/ledger.db' }).ledger.target).toEqual({
      kind: 'sqlite',
      file: '/var/lib/llmo/ledger.db',
    });
    const pg = loadConfig({ DATABASE_URL: 'postgresql://llmo:secret@db:5432/llmo' }).ledger.target;
    expect(pg).toEqual({ kind: 'postgres', url: 'postgresql://llmo:secret@db:5432/llmo' });
    expect(describeTarget(pg)).not.toContain('secret');
  });

  it('reads LEDGER_CONTENT=off as none, as DATABASE_URL and METRICS say off', () => {
    expect(loadConfig({ LEDGER_CONTENT: 'off' }).ledger.content).toBe('none');
    expect(loadConfig({ LEDGER_CONTENT: ' Hash ' }).ledger.content).toBe('hash');
  });

  it('names a retention schedule that is not a cron pattern', () => {
    expect(problems({ LEDGER_RETENTION_CRON: '61 * * * *' })).toEqual([
      expect.stringMatching(/^LEDGER_RETENTION_CRON: not a cron pattern: .*minute/),
    ]);
    expect(loadConfig({ LEDGER_RETENTION_CRON: '5 3 * * *' }).ledger.retentionCron).toBe('5 3 * * *');
  });

  it('names a retention schedule that never comes, which would keep every row whatever LEDGER_RETENTION_DAYS says', () => {
    expect(problems({ LEDGER_RETENTION_CRON: '0 3 30 2 *' })).toEqual([
      'LEDGER_RETENTION_CRON: "0 3 30 2 *" names no time to come (no date matches it), so the retention job would never run; set LEDGER_RETENTION_DAYS=0 to keep every row',
    ]);
    expect(problems({ LEDGER_RETENTION_CRON: '0 0 0 1 1 * 2020' })[0]).toMatch(/^LEDGER_RETENTION_CRON: .*never run/);
    // Never running is what 0 days asks for: the schedule is not read then.
    expect(loadConfig({ LEDGER_RETENTION_DAYS: '0', LEDGER_RETENTION_CRON: '0 3 30 2 *' }).ledger.retentionDays).toBe(0);
  });

  it('names a malformed DATABASE_URL and what it expects', () => {
    expect(problems({ DATABASE_URL: 'mysql://db/x' })).toEqual([
      'DATABASE_URL: expected off, sqlite::memory:, sqlite:<file>, or postgres://user:password@host:5432/database (got "mysql://db/x")',
    ]);
    expect(problems({ DATABASE_URL: 'postgres://' })[0]).toMatch(/^DATABASE_URL: a PostgreSQL URL needs a host/);
    expect(problems({ DATABASE_URL: 'postgres://h:99999/db' })[0]).toMatch(/^DATABASE_URL: /);
    expect(problems({ LEDGER_CONTENT: 'everything' })[0]).toMatch(/^LEDGER_CONTENT: /);
    expect(problems({ LEDGER_FLUSH_MS: '0' })[0]).toMatch(/^LEDGER_FLUSH_MS: /);
  });

  it('shows a password given as a query parameter, which node-postgres reads, nowhere', () => {
    const url = 'postgres://llmo@db:5432/llmo?sslmode=require&password=s3cret&application_name=gw';
    expect(describeTarget(loadConfig({ DATABASE_URL: url }).ledger.target)).toBe(
      'postgres://llmo@db:5432/llmo?sslmode=require&password=***&application_name=gw',
    );
    expect(problems({ DATABASE_URL: 'postgres://llmo@db:99999/llmo?password=s3cret' })).toEqual([expect.not.stringContaining('s3cret')]);
  });
});
