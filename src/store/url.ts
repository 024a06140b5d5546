import { maskUrlPassword } from '../domain/url-password.js';

/**
 * DATABASE_URL, parsed once: where the ledger lives.
 * Unset: an embedded SQLite file ./data/orchestrator.db; `sqlite::memory:` for throwaway runs;
 * `sqlite:<path>` or `file:<path>` for another file; `off` for no database; `postgres://...`
 * (or `postgresql://`) for PostgreSQL, which several replicas share.
 */
export type DatabaseTarget =
  | { readonly kind: 'off' }
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string };

export const DEFAULT_SQLITE_FILE = './data/orchestrator.db';
export const SQLITE_MEMORY = ':memory:';

/** Throws a one-line message naming what is wrong (the caller adds the variable's name). */
export function parseDatabaseUrl(value: string | undefined): DatabaseTarget {
  const given = value?.trim() ?? '';
  if (given === '') return { kind: 'sqlite', file: DEFAULT_SQLITE_FILE };
  if (given.toLowerCase() === 'off') return { kind: 'off' };
  if (given === 'sqlite::memory:' || given === ':memory:') return { kind: 'sqlite', file: SQLITE_MEMORY };
  const sqlite = /^(?:sqlite|file):(?:\/\/)?(.+)$/i.exec(given);
  if (sqlite?.[1]) return { kind: 'sqlite', file: sqlite[1] };
  if (/^postgres(?:ql)?:\/\//i.test(given)) {
    let url: URL;
    try {
      url = new URL(given);
    } catch {
      throw new Error('not a valid URL: expected postgres://user:password@host:5432/database');
    }
    if (!url.hostname && !url.searchParams.get('host'))
      throw new Error('a PostgreSQL URL needs a host: postgres://user:password@host:5432/database');
    if (url.port && !(Number(url.port) > 0 && Number(url.port) < 65536)) throw new Error(`port ${url.port} is not a TCP port`);
    return { kind: 'postgres', url: given };
  }
  throw new Error('expected off, sqlite::memory:, sqlite:<file>, or postgres://user:password@host:5432/database');
}

/** The URL without its password, for logs and messages. */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === 'off') return 'off';
  if (target.kind === 'sqlite') return target.file === SQLITE_MEMORY ? 'sqlite (in memory)' : `sqlite ${target.file}`;
  return maskUrlPassword(target.url);
}
