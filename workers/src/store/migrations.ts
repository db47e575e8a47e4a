import type { Logger } from 'pino';
import { errorMessage, StoreError } from './errors.js';
import type { Dialect, SqlDriver } from './sql-driver.js';

/**
 * Versioned schema migrations, shared by SQLite and PostgreSQL. A migration is
 * a list of statements written once against the column types below; the only
 * dialect differences live in `COLUMN_TYPES`. To change the schema, append a
 * migration with the next version number; never edit one that has shipped.
 */

export interface ColumnTypes {
  /** JSON documents: TEXT in SQLite, JSONB in PostgreSQL. */
  json: string;
  bool: string;
  real: string;
  /** ISO-8601 instants: TEXT in SQLite, TIMESTAMPTZ in PostgreSQL. */
  timestamp: string;
}

export const COLUMN_TYPES: Record<Dialect, ColumnTypes> = {
  sqlite: { json: 'TEXT', bool: 'INTEGER', real: 'REAL', timestamp: 'TEXT' },
  postgres: { json: 'JSONB', bool: 'BOOLEAN', real: 'DOUBLE PRECISION', timestamp: 'TIMESTAMPTZ' },
};

export interface Migration {
  version: number;
  name: string;
  statements(types: ColumnTypes, dialect: Dialect): string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sweeps, trials and curves',
    statements: (t) => [
      `CREATE TABLE sweeps (
        sweep_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        trainer TEXT NOT NULL,
        method TEXT NOT NULL,
        spec ${t.json} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
        planned_trials INTEGER NOT NULL,
        created_at ${t.timestamp} NOT NULL,
        updated_at ${t.timestamp} NOT NULL,
        finished_at ${t.timestamp},
        verdict TEXT,
        report_dir TEXT
      )`,
      // No foreign key to sweeps: a trial may be noted before its sweep row is written.
      `CREATE TABLE trials (
        trial_id TEXT PRIMARY KEY,
        sweep_id TEXT NOT NULL,
        trial_index INTEGER NOT NULL,
        params ${t.json} NOT NULL,
        status TEXT NOT NULL
          CHECK (status IN ('running', 'completed', 'diverged', 'timed_out', 'error', 'cancelled')),
        attempts INTEGER NOT NULL DEFAULT 0,
        outcome ${t.json},
        phase TEXT,
        t_train INTEGER,
        t_val INTEGER,
        ratio ${t.real},
        val_at_train ${t.real},
        semi_grokking ${t.bool},
        error TEXT,
        started_at ${t.timestamp},
        finished_at ${t.timestamp},
        updated_at ${t.timestamp} NOT NULL
      )`,
      'CREATE INDEX trials_by_sweep ON trials (sweep_id, trial_index)',
      `CREATE TABLE curves (
        trial_id TEXT NOT NULL REFERENCES trials (trial_id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        train_acc ${t.real} NOT NULL,
        val_acc ${t.real} NOT NULL,
        train_loss ${t.real},
        val_loss ${t.real},
        weight_norm ${t.real},
        PRIMARY KEY (trial_id, step)
      )`,
    ],
  },
  {
    version: 2,
    name: 'regressions',
    statements: (t) => [
      // One verdict per sweep: a scheduled run's comparison with its baseline.
      `CREATE TABLE regressions (
        sweep_id TEXT PRIMARY KEY,
        schedule_name TEXT,
        spec_name TEXT NOT NULL,
        baseline_sweep_id TEXT,
        verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'regressed', 'inconclusive', 'baseline')),
        details ${t.json} NOT NULL,
        created_at ${t.timestamp} NOT NULL
      )`,
      'CREATE INDEX regressions_by_schedule ON regressions (schedule_name, created_at)',
      'CREATE INDEX regressions_by_spec ON regressions (spec_name, created_at)',
    ],
  },
  {
    version: 3,
    name: 'failed regression verdicts',
    // SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows copied as they
    // are, in the migration's transaction (PostgreSQL runs the same statements).
    statements: (t) => [
      `CREATE TABLE regressions_v3 (
        sweep_id TEXT PRIMARY KEY,
        schedule_name TEXT,
        spec_name TEXT NOT NULL,
        baseline_sweep_id TEXT,
        verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'regressed', 'inconclusive', 'baseline', 'failed')),
        details ${t.json} NOT NULL,
        created_at ${t.timestamp} NOT NULL
      )`,
      `INSERT INTO regressions_v3 (sweep_id, schedule_name, spec_name, baseline_sweep_id, verdict, details, created_at)
        SELECT sweep_id, schedule_name, spec_name, baseline_sweep_id, verdict, details, created_at FROM regressions`,
      'DROP TABLE regressions',
      'ALTER TABLE regressions_v3 RENAME TO regressions',
      'CREATE INDEX regressions_by_schedule ON regressions (schedule_name, created_at)',
      'CREATE INDEX regressions_by_spec ON regressions (spec_name, created_at)',
    ],
  },
];

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError(
        `migration list out of order: entry ${i} has version ${m.version}, expected ${i + 1}`,
      );
    }
  });
}

/**
 * Apply the migrations the database lacks, in order, each in its own
 * transaction, while holding the migration lock: safe to run from several
 * processes at once (the losers find nothing left to do). Returns the
 * versions this call applied.
 */
export async function runMigrations(
  driver: SqlDriver,
  logger: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  checkOrder(migrations);
  const types = COLUMN_TYPES[driver.dialect];
  return driver.withMigrationLock(async (locked) => {
    await locked.transaction((tx) =>
      tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at ${types.timestamp} NOT NULL
      )`),
    );
    const rows = await locked.query('SELECT MAX(version) AS version FROM schema_migrations');
    const current = Number(rows[0]?.version ?? 0);
    if (current > migrations.length) {
      throw new StoreError(
        `database ${driver.location} has schema version ${current}, newer than this grokmap knows ` +
          `(${migrations.length}); upgrade grokmap or point it at another database`,
      );
    }
    const applied: number[] = [];
    for (const migration of migrations.slice(current)) {
      const done = await locked.transaction(async (tx) => {
        const already = await tx.query('SELECT 1 AS one FROM schema_migrations WHERE version = ?', [
          migration.version,
        ]);
        if (already.length > 0) return false;
        for (const statement of migration.statements(types, driver.dialect)) {
          try {
            await tx.query(statement);
          } catch (err) {
            throw new StoreError(
              `schema migration ${migration.version} (${migration.name}) failed on ${driver.location}: ` +
                errorMessage(err),
              { cause: err },
            );
          }
        }
        await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
          migration.version,
          migration.name,
          new Date().toISOString(),
        ]);
        return true;
      });
      if (done) {
        applied.push(migration.version);
        logger.info({ version: migration.version, name: migration.name }, 'applied schema migration');
      }
    }
    return applied;
  });
}
