import type { Logger } from 'pino';
import { StoreError } from './errors.js';
import { openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { ResultsStore } from './types.js';

export interface OpenStoreOptions {
  /**
   * Where the results live: `postgres://…` / `postgresql://…` for PostgreSQL;
   * `sqlite:///abs/path.db`, `sqlite:relative.db` or `file:…` for SQLite.
   * Callers pass `process.env.GROKMAP_DATABASE_URL`; this module reads no environment.
   */
  databaseUrl?: string;
  /** SQLite file used when `databaseUrl` is empty (callers choose, e.g. `.grokmap/grokmap.db`). */
  sqlitePath?: string;
  logger?: Logger;
  /** Apply pending schema migrations before returning. Default true. */
  migrate?: boolean;
}

/** The SQLite file a `sqlite:` or `file:` URL names. */
export function sqlitePathFromUrl(url: string): string {
  const rest = url.replace(/^(sqlite|file):/, '');
  // sqlite:///abs/path → /abs/path; sqlite://relative → relative; sqlite:path → path
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  const withoutQuery = path.split('?')[0] ?? '';
  if (withoutQuery === '') throw new StoreError(`database URL ${JSON.stringify(url)} names no SQLite file`);
  return decodeURIComponent(withoutQuery);
}

/** Open the results store a URL (or a SQLite path) names, migrated and ready to use. */
export async function openStore(options: OpenStoreOptions): Promise<ResultsStore> {
  const url = options.databaseUrl?.trim();
  let store: ResultsStore;
  if (url && /^postgres(ql)?:\/\//i.test(url)) {
    store = openPostgresStore({ url, logger: options.logger });
  } else if (url && /^(sqlite|file):/i.test(url)) {
    store = openSqliteStore({ path: sqlitePathFromUrl(url), logger: options.logger });
  } else if (url) {
    throw new StoreError(
      `unsupported database URL ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//…@'))}: ` +
        'expected postgres://, postgresql://, sqlite: or file:',
    );
  } else if (options.sqlitePath) {
    store = openSqliteStore({ path: options.sqlitePath, logger: options.logger });
  } else {
    throw new StoreError('openStore needs a databaseUrl or a sqlitePath');
  }
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }
  return store;
}
