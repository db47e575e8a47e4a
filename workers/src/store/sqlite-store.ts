import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { type Logger, pino } from 'pino';
import { errorMessage, StoreError } from './errors.js';
import type { Migration } from './migrations.js';
import type { SqlDriver, SqlParam, SqlRow, SqlSession } from './sql-driver.js';
import { SqlResultsStore } from './sql-store.js';

export interface SqliteStoreOptions {
  /** Database file; its folder is created when missing. `:memory:` for a private in-memory store. */
  path: string;
  logger?: Logger;
  /** How long a write waits for another process's lock before failing. Default 10 s. */
  busyTimeoutMs?: number;
  /** Schema migrations to apply (tests add later ones); defaults to the built-in list. */
  migrations?: readonly Migration[];
}

/**
 * Serialises the work of every connection this process holds to one file.
 * better-sqlite3 is synchronous: if connection A held a write transaction
 * across an `await` while connection B asked for the lock, B would wait on
 * the busy timeout with the thread blocked, and A could never finish.
 */
class FileQueue {
  private tail: Promise<unknown> = Promise.resolve();
  users = 0;

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
const queues = new Map<string, FileQueue>();

function queueFor(path: string): FileQueue {
  const key = path === ':memory:' ? `:memory:${queues.size}:${Math.random()}` : resolve(path);
  let queue = queues.get(key);
  if (!queue) {
    queue = new FileQueue();
    queues.set(key, queue);
  }
  queue.users += 1;
  return queue;
}

function releaseQueue(queue: FileQueue): void {
  queue.users -= 1;
  if (queue.users === 0) {
    for (const [key, q] of queues) if (q === queue) queues.delete(key);
  }
}

const bind = (params: readonly SqlParam[]) => params.map((p) => (typeof p === 'boolean' ? Number(p) : p));

class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly session: SqlSession = { query: async (sql, params) => this.run(sql, params) };
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    readonly location: string,
    private readonly queue: FileQueue,
  ) {}

  private run(sql: string, params: readonly SqlParam[] = []): SqlRow[] {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    if (statement.reader) return statement.all(...bind(params)) as SqlRow[];
    statement.run(...bind(params));
    return [];
  }

  query(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]> {
    return this.queue.run(async () => this.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.session);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** Each migration runs under BEGIN IMMEDIATE and re-checks its version, which is lock enough. */
  withMigrationLock<T>(fn: (driver: SqlDriver) => Promise<T>): Promise<T> {
    return fn(this);
  }

  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.closed) return;
      this.closed = true;
      this.db.close();
      releaseQueue(this.queue);
    });
  }
}

/** Open (creating when missing) a SQLite results store in WAL mode. Call `migrate()` before use. */
export function openSqliteStore(options: SqliteStoreOptions): SqlResultsStore {
  const { path } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const location = path === ':memory:' ? 'sqlite::memory:' : `sqlite:${resolve(path)}`;
  let db: Database.Database | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    // The first statement reads the file header: a file that is not a database fails here.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db?.close();
    throw new StoreError(`cannot open SQLite database ${location}: ${errorMessage(err)}`, { cause: err });
  }
  logger.debug({ location }, 'opened results store');
  return new SqlResultsStore(new SqliteDriver(db, location, queueFor(path)), logger, options.migrations);
}
