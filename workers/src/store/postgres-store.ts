import pg from 'pg';
import { type Logger, pino } from 'pino';
import { errorMessage, StoreError } from './errors.js';
import type { Migration } from './migrations.js';
import type { SqlDriver, SqlParam, SqlRow, SqlSession } from './sql-driver.js';
import { SqlResultsStore } from './sql-store.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** Schema holding the tables (created by `migrate()` when missing); default: the server's search_path. */
  schema?: string;
  logger?: Logger;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** Schema migrations to apply (tests add later ones); defaults to the built-in list. */
  migrations?: readonly Migration[];
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Rewrites `?` placeholders as `$1, $2, …`, leaving quoted text alone. */
export function toPostgresPlaceholders(sql: string): string {
  let n = 0;
  let out = '';
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      n += 1;
      out += `$${n}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** The URL without its password, for messages and logs. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres (unparseable URL)';
  }
}

const placeholderCache = new Map<string, string>();
function prepare(sql: string): string {
  let text = placeholderCache.get(sql);
  if (text === undefined) {
    text = toPostgresPlaceholders(sql);
    placeholderCache.set(sql, text);
  }
  return text;
}

async function runOn(
  client: pg.PoolClient,
  sql: string,
  params: readonly SqlParam[] = [],
): Promise<SqlRow[]> {
  const result = await client.query(prepare(sql), params as SqlParam[]);
  return result.rows as SqlRow[];
}

async function inTransaction<T>(client: pg.PoolClient, fn: (tx: SqlSession) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn({ query: (sql, params) => runOn(client, sql, params) });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A driver bound to one connection: what migrations run on while it holds the advisory lock. */
class PostgresConnectionDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  constructor(
    private readonly client: pg.PoolClient,
    readonly location: string,
  ) {}
  query(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]> {
    return runOn(this.client, sql, params);
  }
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return inTransaction(this.client, fn);
  }
  withMigrationLock<T>(fn: (driver: SqlDriver) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {}
}

class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;

  constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
    private readonly schema: string | undefined,
  ) {}

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw new StoreError(`cannot connect to PostgreSQL at ${this.location}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  query(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]> {
    return this.withClient((client) => runOn(client, sql, params));
  }

  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return this.withClient((client) => inTransaction(client, fn));
  }

  /** A session advisory lock keyed by schema, so migrations of different schemas never wait on each other. */
  withMigrationLock<T>(fn: (driver: SqlDriver) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      const key = `grokmap.migrate:${this.schema ?? 'default'}`;
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
      try {
        if (this.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
        return await fn(new PostgresConnectionDriver(client, this.location));
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
      }
    });
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

/** Open a PostgreSQL results store (connections are made lazily). Call `migrate()` before use. */
export function openPostgresStore(options: PostgresStoreOptions): SqlResultsStore {
  const logger = options.logger ?? pino({ level: 'silent' });
  const location = describeUrl(options.url) + (options.schema ? ` (schema ${options.schema})` : '');
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new StoreError(
      `invalid PostgreSQL schema name ${JSON.stringify(options.schema)}: use lower-case letters, digits and _`,
    );
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle connection dropped by the server must not crash the process.
  pool.on('error', (err) =>
    logger.warn({ err: errorMessage(err), location }, 'idle PostgreSQL connection failed'),
  );
  return new SqlResultsStore(new PostgresDriver(pool, location, options.schema), logger, options.migrations);
}
