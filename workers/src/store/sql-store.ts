import { type CurvePoint, curvePointSchema, trialOutcomeSchema } from '@grokmap/plugin-sdk';
import { PASSING_VERDICTS, REGRESSION_VERDICTS } from '@grokmap/workflows';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CorruptRowError, formatIssues, StoreError } from './errors.js';
import { MIGRATIONS, type Migration, runMigrations } from './migrations.js';
import { RowReader } from './row-reader.js';
import type { SqlDriver, SqlParam, SqlRow, SqlSession } from './sql-driver.js';
import {
  FINAL_TRIAL_STATUSES,
  type PhaseLabel,
  type RegressionRecord,
  type ResultsStore,
  SWEEP_STATUSES,
  type SweepRecord,
  type SweepScan,
  type SweepStatus,
  type TrialCount,
  type TrialRecord,
  type TrialRecordStatus,
  type TrialResult,
  type TrialScan,
  type UnreadableTrial,
} from './types.js';

/**
 * The results store over any SqlDriver: all SQL is written once here and
 * runs unchanged on SQLite and PostgreSQL (upserts use ON CONFLICT, which
 * both speak). Final trials are never overwritten: every trial upsert only
 * updates a row whose status is still 'running'.
 */

const TRIAL_STATUSES: readonly TrialRecordStatus[] = ['running', ...FINAL_TRIAL_STATUSES];
const PHASES: readonly PhaseLabel[] = ['comprehension', 'grokking', 'memorization', 'confusion'];

const paramsSchema = z.record(z.string(), z.unknown());
const storedOutcomeSchema = trialOutcomeSchema.omit({ curves: true });
const id = z.string().min(1);
const nonNegativeInt = z.number().int().nonnegative();
/** R = t_val / t_train may be infinite (t_train = 0); NaN is never stored. */
const ratioSchema = z.custom<number>((v) => typeof v === 'number' && !Number.isNaN(v), 'expected a number');
const isoInstant = z.iso.datetime({ offset: true });

const sweepInput = z.object({
  sweepId: id,
  name: z.string(),
  trainer: z.string(),
  method: z.string(),
  spec: z.unknown(),
  status: z.enum(SWEEP_STATUSES),
  plannedTrials: nonNegativeInt,
  createdAt: isoInstant,
  updatedAt: isoInstant,
  finishedAt: isoInstant.optional(),
  verdict: z.string().optional(),
  reportDir: z.string().optional(),
});

const regressionInput = z.object({
  sweepId: z.string().min(1),
  scheduleName: z.string().min(1).nullable(),
  specName: z.string().min(1),
  baselineSweepId: z.string().min(1).nullable(),
  verdict: z.enum(REGRESSION_VERDICTS),
  details: z.unknown(),
  createdAt: z.iso.datetime({ offset: true }),
});

const trialIdentity = { sweepId: id, trialId: id, index: nonNegativeInt, params: paramsSchema };

const runningInput = z.object({ ...trialIdentity, attempt: nonNegativeInt });

const resultInput = z.object({
  ...trialIdentity,
  attempts: nonNegativeInt,
  outcome: trialOutcomeSchema,
  phase: z.enum(PHASES as [PhaseLabel, ...PhaseLabel[]]).nullable(),
  tTrain: nonNegativeInt.nullable(),
  tVal: nonNegativeInt.nullable(),
  ratio: ratioSchema.nullable(),
  valAtTrain: z.number().nullable(),
  semiGrokking: z.boolean(),
});

const failureInput = z.object({
  ...trialIdentity,
  attempts: nonNegativeInt,
  status: z.enum(['diverged', 'timed_out', 'error', 'cancelled']),
  error: z.string(),
});

/** Instants are stored in UTC so that SQLite's text ordering is time ordering. */
const utc = (iso: string) => new Date(iso).toISOString();

function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new StoreError(`invalid ${what}: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/** Curves with one point per step (the last wins), in step order. */
function uniqueSteps(points: readonly CurvePoint[]): CurvePoint[] {
  const byStep = new Map<number, CurvePoint>();
  for (const point of points) byStep.set(point.step, point);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

const CURVE_COLUMNS = 7;
const CURVE_ROWS_PER_INSERT = 200;

const TRIAL_COLUMNS = [
  'trial_id',
  'sweep_id',
  'trial_index',
  'params',
  'status',
  'attempts',
  'outcome',
  'phase',
  't_train',
  't_val',
  'ratio',
  'val_at_train',
  'semi_grokking',
  'error',
  'started_at',
  'finished_at',
  'updated_at',
] as const;
type TrialColumn = (typeof TRIAL_COLUMNS)[number];

type TrialIdentity = { sweepId: string; trialId: string; index: number; params: Record<string, unknown> };

function identityColumns(t: TrialIdentity): Partial<Record<TrialColumn, SqlParam>> {
  return { trial_id: t.trialId, sweep_id: t.sweepId, trial_index: t.index, params: JSON.stringify(t.params) };
}

export class SqlResultsStore implements ResultsStore {
  readonly kind: 'sqlite' | 'postgres';
  private readonly greatest: string;

  constructor(
    private readonly driver: SqlDriver,
    private readonly logger: Logger,
    private readonly migrations: readonly Migration[] = MIGRATIONS,
  ) {
    this.kind = driver.dialect;
    this.greatest = driver.dialect === 'postgres' ? 'GREATEST' : 'MAX';
  }

  async migrate(): Promise<void> {
    await runMigrations(this.driver, this.logger, this.migrations);
  }

  async saveSweep(sweep: SweepRecord): Promise<void> {
    const s = validate(sweepInput, sweep, `sweep ${sweep?.sweepId}`);
    await this.driver.query(
      `INSERT INTO sweeps (sweep_id, name, trainer, method, spec, status, planned_trials,
         created_at, updated_at, finished_at, verdict, report_dir)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sweep_id) DO UPDATE SET
         name = excluded.name, trainer = excluded.trainer, method = excluded.method, spec = excluded.spec,
         status = excluded.status, planned_trials = excluded.planned_trials, updated_at = excluded.updated_at,
         finished_at = excluded.finished_at, verdict = excluded.verdict, report_dir = excluded.report_dir`,
      [
        s.sweepId,
        s.name,
        s.trainer,
        s.method,
        JSON.stringify(s.spec ?? null),
        s.status,
        s.plannedTrials,
        utc(s.createdAt),
        utc(s.updatedAt),
        s.finishedAt === undefined ? null : utc(s.finishedAt),
        s.verdict ?? null,
        s.reportDir ?? null,
      ],
    );
  }

  async setSweepStatus(
    sweepId: string,
    status: SweepStatus,
    fields: { verdict?: string; reportDir?: string } = {},
  ): Promise<void> {
    validate(sweepInput.shape.status, status, `status for sweep ${sweepId}`);
    const now = new Date().toISOString();
    // A sweep that is running again has no finish time; one that ends keeps its first.
    const finished = status === 'running' ? 'finished_at = NULL' : 'finished_at = COALESCE(finished_at, ?)';
    const params: SqlParam[] = [status, now, ...(status === 'running' ? [] : [now])];
    const rows = await this.driver.query(
      `UPDATE sweeps SET status = ?, updated_at = ?, ${finished},
         verdict = COALESCE(?, verdict), report_dir = COALESCE(?, report_dir)
       WHERE sweep_id = ? RETURNING sweep_id`,
      [...params, fields.verdict ?? null, fields.reportDir ?? null, sweepId],
    );
    if (rows.length === 0) throw new StoreError(`cannot set status of sweep ${sweepId}: no such sweep`);
  }

  async getSweep(sweepId: string): Promise<SweepRecord | undefined> {
    const rows = await this.driver.query('SELECT * FROM sweeps WHERE sweep_id = ?', [sweepId]);
    return rows[0] && readSweep(rows[0]);
  }

  async listSweeps(): Promise<SweepRecord[]> {
    return (await this.sweepRows()).map(readSweep);
  }

  async scanSweeps(): Promise<SweepScan> {
    const scan: SweepScan = { sweeps: [], unreadable: [] };
    for (const row of await this.sweepRows()) {
      try {
        scan.sweeps.push(readSweep(row));
      } catch (err) {
        if (!(err instanceof CorruptRowError)) throw err;
        scan.unreadable.push({ sweepId: String(row.sweep_id), problem: err.message });
      }
    }
    return scan;
  }

  async trialCounts(): Promise<TrialCount[]> {
    const rows = await this.driver.query(
      'SELECT sweep_id, status, phase, COUNT(*) AS n FROM trials GROUP BY sweep_id, status, phase ORDER BY sweep_id, status, phase',
    );
    // PostgreSQL returns COUNT(*) as a bigint string.
    return rows.map((row) => ({
      sweepId: String(row.sweep_id),
      status: String(row.status),
      phase: row.phase === null || row.phase === undefined ? null : String(row.phase),
      count: Number(row.n),
    }));
  }

  private sweepRows(): Promise<SqlRow[]> {
    return this.driver.query('SELECT * FROM sweeps ORDER BY created_at, sweep_id');
  }

  async markTrialRunning(trial: Parameters<ResultsStore['markTrialRunning']>[0]): Promise<void> {
    const t = validate(runningInput, trial, `running trial ${trial?.trialId}`);
    const now = new Date().toISOString();
    await this.upsertTrial(
      this.driver,
      {
        ...identityColumns(t),
        status: 'running',
        attempts: t.attempt,
        started_at: now,
        updated_at: now,
      },
      // attempts only grows; the first start time is kept.
      `attempts = ${this.greatest}(trials.attempts, excluded.attempts),
       started_at = COALESCE(trials.started_at, excluded.started_at), updated_at = excluded.updated_at`,
    );
  }

  async recordTrialResult(result: TrialResult): Promise<{ recorded: boolean }> {
    const r = validate(resultInput, result, `result of trial ${result?.trialId}`);
    const { curves, ...outcome } = r.outcome;
    return this.finishTrial(
      r,
      {
        status: outcome.status,
        attempts: r.attempts,
        outcome: JSON.stringify(outcome),
        phase: r.phase,
        t_train: r.tTrain,
        t_val: r.tVal,
        ratio: r.ratio,
        val_at_train: r.valAtTrain,
        semi_grokking: r.semiGrokking,
        error: outcome.status === 'completed' ? null : (outcome.reason ?? outcome.status),
      },
      curves,
    );
  }

  async recordTrialFailure(
    trial: Parameters<ResultsStore['recordTrialFailure']>[0],
  ): Promise<{ recorded: boolean }> {
    const t = validate(failureInput, trial, `failure of trial ${trial?.trialId}`);
    return this.finishTrial(t, { status: t.status, attempts: t.attempts, error: t.error }, []);
  }

  async getTrial(trialId: string): Promise<TrialRecord | undefined> {
    const rows = await this.driver.query('SELECT * FROM trials WHERE trial_id = ?', [trialId]);
    return rows[0] && readTrial(rows[0]);
  }

  async listTrials(sweepId: string): Promise<TrialRecord[]> {
    return (await this.trialRows(sweepId)).map(readTrial);
  }

  async scanTrials(sweepId: string): Promise<TrialScan> {
    const scan: TrialScan = { trials: [], unreadable: [] };
    for (const row of await this.trialRows(sweepId)) {
      try {
        scan.trials.push(readTrial(row));
      } catch (err) {
        if (!(err instanceof CorruptRowError)) throw err;
        scan.unreadable.push(unreadableTrial(row, err));
      }
    }
    return scan;
  }

  async getCurves(trialId: string): Promise<CurvePoint[]> {
    const rows = await this.driver.query(
      `SELECT step, train_acc, val_acc, train_loss, val_loss, weight_norm
       FROM curves WHERE trial_id = ? ORDER BY step`,
      [trialId],
    );
    return rows.map((row) => readCurvePoint(trialId, row));
  }

  async saveRegression(record: RegressionRecord): Promise<void> {
    const r = validate(regressionInput, record, `regression of sweep ${record?.sweepId}`);
    // A retried save keeps the first creation time, so the order of runs never changes.
    await this.driver.query(
      `INSERT INTO regressions (sweep_id, schedule_name, spec_name, baseline_sweep_id, verdict, details, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sweep_id) DO UPDATE SET
         schedule_name = excluded.schedule_name, spec_name = excluded.spec_name,
         baseline_sweep_id = excluded.baseline_sweep_id, verdict = excluded.verdict, details = excluded.details`,
      [
        r.sweepId,
        r.scheduleName,
        r.specName,
        r.baselineSweepId,
        r.verdict,
        JSON.stringify(r.details ?? null),
        utc(r.createdAt),
      ],
    );
  }

  async getRegression(sweepId: string): Promise<RegressionRecord | undefined> {
    const rows = await this.driver.query('SELECT * FROM regressions WHERE sweep_id = ?', [sweepId]);
    return rows[0] && readRegression(rows[0]);
  }

  async listRegressions(filter: { scheduleName?: string; limit?: number } = {}): Promise<RegressionRecord[]> {
    const where = filter.scheduleName === undefined ? '' : 'WHERE schedule_name = ?';
    const limit = filter.limit === undefined ? '' : `LIMIT ${Math.max(0, Math.floor(filter.limit))}`;
    const rows = await this.driver.query(
      `SELECT * FROM regressions ${where} ORDER BY created_at DESC, sweep_id DESC ${limit}`,
      filter.scheduleName === undefined ? [] : [filter.scheduleName],
    );
    return rows.map(readRegression);
  }

  async lastPassingSweep(series: {
    scheduleName?: string;
    specName?: string;
    excludeSweepId?: string;
  }): Promise<string | undefined> {
    const [column, value] =
      series.scheduleName !== undefined
        ? ['schedule_name', series.scheduleName]
        : ['spec_name', series.specName];
    if (value === undefined) return undefined;
    const rows = await this.driver.query(
      `SELECT sweep_id FROM regressions
       WHERE ${column} = ? AND verdict IN (${PASSING_VERDICTS.map(() => '?').join(', ')}) AND sweep_id <> ?
       ORDER BY created_at DESC, sweep_id DESC LIMIT 1`,
      [value, ...PASSING_VERDICTS, series.excludeSweepId ?? ''],
    );
    return rows[0] ? String(rows[0].sweep_id) : undefined;
  }

  async close(): Promise<void> {
    await this.driver.close();
  }

  /** A sweep's trial rows, by index. */
  private trialRows(sweepId: string): Promise<SqlRow[]> {
    return this.driver.query('SELECT * FROM trials WHERE sweep_id = ? ORDER BY trial_index, trial_id', [
      sweepId,
    ]);
  }

  /**
   * Write a trial in a final state, with its curves, in one transaction,
   * unless the trial is already final: then nothing changes.
   */
  private finishTrial(
    trial: TrialIdentity,
    values: Partial<Record<TrialColumn, SqlParam>>,
    curves: readonly CurvePoint[],
  ): Promise<{ recorded: boolean }> {
    const now = new Date().toISOString();
    return this.driver.transaction(async (tx) => {
      const rows = await this.upsertTrial(
        tx,
        { ...identityColumns(trial), ...values, finished_at: now, updated_at: now },
        `sweep_id = excluded.sweep_id, trial_index = excluded.trial_index, params = excluded.params,
         status = excluded.status, attempts = ${this.greatest}(trials.attempts, excluded.attempts),
         outcome = excluded.outcome, phase = excluded.phase, t_train = excluded.t_train, t_val = excluded.t_val,
         ratio = excluded.ratio, val_at_train = excluded.val_at_train, semi_grokking = excluded.semi_grokking,
         error = excluded.error, finished_at = excluded.finished_at, updated_at = excluded.updated_at`,
      );
      if (rows.length === 0) return { recorded: false };
      await this.writeCurves(tx, trial.trialId, uniqueSteps(curves));
      return { recorded: true };
    });
  }

  /** Insert a trial, or apply `updates` to a trial that is still running; returns the rows written. */
  private upsertTrial(
    session: SqlSession,
    values: Partial<Record<TrialColumn, SqlParam>>,
    updates: string,
  ): Promise<SqlRow[]> {
    const columns = TRIAL_COLUMNS.filter((c) => values[c] !== undefined);
    return session.query(
      `INSERT INTO trials (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
       ON CONFLICT (trial_id) DO UPDATE SET ${updates}
       WHERE trials.status = 'running'
       RETURNING trial_id`,
      columns.map((c) => values[c] ?? null),
    );
  }

  private async writeCurves(tx: SqlSession, trialId: string, points: CurvePoint[]): Promise<void> {
    await tx.query('DELETE FROM curves WHERE trial_id = ?', [trialId]);
    for (let start = 0; start < points.length; start += CURVE_ROWS_PER_INSERT) {
      const chunk = points.slice(start, start + CURVE_ROWS_PER_INSERT);
      const row = `(${new Array(CURVE_COLUMNS).fill('?').join(', ')})`;
      await tx.query(
        `INSERT INTO curves (trial_id, step, train_acc, val_acc, train_loss, val_loss, weight_norm)
         VALUES ${chunk.map(() => row).join(', ')}`,
        chunk.flatMap((p) => [
          trialId,
          p.step,
          p.trainAcc,
          p.valAcc,
          p.trainLoss ?? null,
          p.valLoss ?? null,
          p.weightNorm ?? null,
        ]),
      );
    }
  }
}

function readSweep(row: SqlRow): SweepRecord {
  const r = new RowReader('sweeps', `sweep_id=${String(row.sweep_id)}`, row);
  return dropUndefined({
    sweepId: r.text('sweep_id'),
    name: r.text('name'),
    trainer: r.text('trainer'),
    method: r.text('method'),
    spec: r.json('spec', z.unknown()),
    status: r.oneOf('status', SWEEP_STATUSES),
    plannedTrials: r.integer('planned_trials'),
    createdAt: r.timestamp('created_at'),
    updatedAt: r.timestamp('updated_at'),
    finishedAt: r.optionalTimestamp('finished_at'),
    verdict: r.optionalText('verdict'),
    reportDir: r.optionalText('report_dir'),
  });
}

function readTrial(row: SqlRow): TrialRecord {
  const r = new RowReader('trials', `trial_id=${String(row.trial_id)}`, row);
  const phase = r.optionalText('phase') === undefined ? null : r.oneOf('phase', PHASES);
  return dropUndefined({
    sweepId: r.text('sweep_id'),
    trialId: r.text('trial_id'),
    index: r.integer('trial_index'),
    params: r.json('params', paramsSchema),
    status: r.oneOf('status', TRIAL_STATUSES),
    attempts: r.integer('attempts'),
    outcome: r.optionalJson('outcome', storedOutcomeSchema),
    phase,
    tTrain: r.nullableInteger('t_train'),
    tVal: r.nullableInteger('t_val'),
    ratio: r.nullableNumber('ratio'),
    valAtTrain: r.nullableNumber('val_at_train'),
    semiGrokking: r.optionalBoolean('semi_grokking'),
    error: r.optionalText('error'),
    startedAt: r.optionalTimestamp('started_at'),
    finishedAt: r.optionalTimestamp('finished_at'),
  });
}

/** What can still be read of a corrupt trial row: its id, and its index and parameters when those columns read. */
function unreadableTrial(row: SqlRow, err: CorruptRowError): UnreadableTrial {
  const r = new RowReader('trials', err.rowKey, row);
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch {
      return undefined;
    }
  };
  return dropUndefined({
    trialId: String(row.trial_id),
    index: attempt(() => r.integer('trial_index')),
    params: attempt(() => r.json('params', paramsSchema)),
    problem: err.message,
  });
}

function readRegression(row: SqlRow): RegressionRecord {
  const r = new RowReader('regressions', `sweep_id=${String(row.sweep_id)}`, row);
  return {
    sweepId: r.text('sweep_id'),
    scheduleName: r.optionalText('schedule_name') ?? null,
    specName: r.text('spec_name'),
    baselineSweepId: r.optionalText('baseline_sweep_id') ?? null,
    verdict: r.oneOf('verdict', REGRESSION_VERDICTS),
    details: r.json('details', z.unknown()),
    createdAt: r.timestamp('created_at'),
  };
}

function readCurvePoint(trialId: string, row: SqlRow): CurvePoint {
  const r = new RowReader('curves', `trial_id=${trialId}, step=${String(row.step)}`, row);
  const point = dropUndefined({
    step: r.integer('step'),
    trainAcc: r.number('train_acc'),
    valAcc: r.number('val_acc'),
    trainLoss: r.optionalNumber('train_loss'),
    valLoss: r.optionalNumber('val_loss'),
    weightNorm: r.optionalNumber('weight_norm'),
  });
  return r.conforms(curvePointSchema, point);
}

/** Records leave absent optional fields out rather than carrying `undefined`. */
function dropUndefined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}
