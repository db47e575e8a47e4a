/**
 * The little a results store needs from a database: run one parameterised
 * statement, run a function inside a transaction, hold the migration lock.
 * SQL is written once with `?` placeholders; each driver adapts it.
 */

export type Dialect = 'sqlite' | 'postgres';

/** A value a statement parameter may take; drivers map booleans for their dialect. */
export type SqlParam = string | number | boolean | null;

export type SqlRow = Record<string, unknown>;

export interface SqlSession {
  /** Run one statement; returns its rows (empty for statements without RETURNING). */
  query(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]>;
}

export interface SqlDriver extends SqlSession {
  readonly dialect: Dialect;
  /** Where the data lives, for messages (never includes a password). */
  readonly location: string;
  /**
   * Run `fn` in one transaction that takes the write lock up front (SQLite:
   * BEGIN IMMEDIATE); commit when it resolves, roll back when it throws.
   */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Run `fn` while holding the lock that serialises schema migrations across
   * processes (PostgreSQL: a session advisory lock). `fn` gets a driver bound
   * to the locked connection.
   */
  withMigrationLock<T>(fn: (driver: SqlDriver) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
