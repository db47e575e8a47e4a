import type { CurvePoint, TrialOutcome } from '@grokmap/plugin-sdk';
import type { RegressionVerdictKind } from '@grokmap/workflows';

/**
 * The results store: sweeps, trials and curves. Two implementations with the
 * same behaviour (SQLite by default, PostgreSQL for shared/cluster use).
 * Writes are idempotent by id: recording the same trial twice leaves one row.
 */

export const SWEEP_STATUSES = ['running', 'completed', 'failed', 'cancelled'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];

export interface SweepRecord {
  sweepId: string;
  name: string;
  trainer: string;
  method: string;
  /** The validated spec, as JSON-compatible data. */
  spec: unknown;
  status: SweepStatus;
  /** Trials the sweep plans to run. */
  plannedTrials: number;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** Why the sweep ended the way it did (e.g. failure budget spent). */
  verdict?: string;
  /** Folder of the sweep's report, once written. */
  reportDir?: string;
}

/** Trial lifecycle: pending/running while in flight; the rest are final. */
export type TrialRecordStatus = 'running' | TrialOutcome['status'];
export const FINAL_TRIAL_STATUSES: readonly TrialRecordStatus[] = [
  'completed',
  'diverged',
  'timed_out',
  'error',
  'cancelled',
];

export type PhaseLabel = 'comprehension' | 'grokking' | 'memorization' | 'confusion';

export interface TrialRecord {
  sweepId: string;
  trialId: string;
  index: number;
  params: Record<string, unknown>;
  status: TrialRecordStatus;
  attempts: number;
  /** The outcome without its curves (curves live in their own table). */
  outcome?: Omit<TrialOutcome, 'curves'>;
  phase?: PhaseLabel | null;
  tTrain?: number | null;
  tVal?: number | null;
  /** R = t_val / t_train. */
  ratio?: number | null;
  valAtTrain?: number | null;
  semiGrokking?: boolean;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
}

/** What a finished trial records; curves are written in the same transaction. */
export interface TrialResult {
  sweepId: string;
  trialId: string;
  index: number;
  params: Record<string, unknown>;
  attempts: number;
  outcome: TrialOutcome;
  phase: PhaseLabel | null;
  tTrain: number | null;
  tVal: number | null;
  ratio: number | null;
  valAtTrain: number | null;
  semiGrokking: boolean;
}

/** A trial row that exists but cannot be read back into a record. */
export interface UnreadableTrial {
  trialId: string;
  /** Its index in the sweep, when that column reads. */
  index?: number;
  /** Its parameters, when that column reads. */
  params?: Record<string, unknown>;
  /** What is wrong: the table, row and column, as a CorruptRowError says it. */
  problem: string;
}

export interface TrialScan {
  trials: TrialRecord[];
  unreadable: UnreadableTrial[];
}

export interface UnreadableSweep {
  sweepId: string;
  /** What is wrong: the table, row and column, as a CorruptRowError says it. */
  problem: string;
}

export interface SweepScan {
  sweeps: SweepRecord[];
  unreadable: UnreadableSweep[];
}

/** Stored trials of one sweep with one status and phase (phase null: not classified). */
export interface TrialCount {
  sweepId: string;
  status: string;
  phase: string | null;
  count: number;
}

export type RegressionVerdictLabel = RegressionVerdictKind;

/** A scheduled run's verdict against its baseline (one per sweep). */
export interface RegressionRecord {
  sweepId: string;
  /** The schedule that ran it; null for a run started by hand. */
  scheduleName: string | null;
  specName: string;
  baselineSweepId: string | null;
  verdict: RegressionVerdictLabel;
  /** The full comparison (changed cells, boundary shifts, delay ratios), as JSON-compatible data. */
  details: unknown;
  createdAt: string;
}

export interface ResultsStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Apply pending schema migrations (versioned, each in a transaction). Safe to call on every start. */
  migrate(): Promise<void>;
  /** Insert or update a sweep's record. */
  saveSweep(sweep: SweepRecord): Promise<void>;
  setSweepStatus(
    sweepId: string,
    status: SweepStatus,
    fields?: { verdict?: string; reportDir?: string },
  ): Promise<void>;
  getSweep(sweepId: string): Promise<SweepRecord | undefined>;
  listSweeps(): Promise<SweepRecord[]>;
  /** Every sweep that can be read, oldest first, and what is wrong with each row that cannot. Reads only. */
  scanSweeps(): Promise<SweepScan>;
  /** Trials per sweep, status and phase, for every sweep at once (one grouped query). */
  trialCounts(): Promise<TrialCount[]>;
  /** Note that an attempt started. Never downgrades a trial already in a final state. */
  markTrialRunning(trial: {
    sweepId: string;
    trialId: string;
    index: number;
    params: Record<string, unknown>;
    attempt: number;
  }): Promise<void>;
  /**
   * Record a trial's final result once. A second call for the same trial id
   * changes nothing and returns `{ recorded: false }`.
   */
  recordTrialResult(result: TrialResult): Promise<{ recorded: boolean }>;
  /** Record a trial that ended without an outcome (cancelled before running, failed every attempt). */
  recordTrialFailure(trial: {
    sweepId: string;
    trialId: string;
    index: number;
    params: Record<string, unknown>;
    attempts: number;
    status: Exclude<TrialRecordStatus, 'running' | 'completed'>;
    error: string;
  }): Promise<{ recorded: boolean }>;
  getTrial(trialId: string): Promise<TrialRecord | undefined>;
  /** Every trial of a sweep; throws a CorruptRowError on the first row that cannot be read. */
  listTrials(sweepId: string): Promise<TrialRecord[]>;
  /**
   * Every trial of a sweep that can be read, and for each row that cannot,
   * what is wrong with it (for reports that must show what is missing rather
   * than fail). Reads only; a corrupt row is left as it is.
   */
  scanTrials(sweepId: string): Promise<TrialScan>;
  getCurves(trialId: string): Promise<CurvePoint[]>;
  /** Record a regression verdict; a second save for the same sweep replaces the first. */
  saveRegression(record: RegressionRecord): Promise<void>;
  getRegression(sweepId: string): Promise<RegressionRecord | undefined>;
  /** Verdicts, newest first; only one schedule's when `scheduleName` is given. */
  listRegressions(filter?: { scheduleName?: string; limit?: number }): Promise<RegressionRecord[]>;
  /**
   * The newest sweep of a schedule (or, for runs without one, of a spec name)
   * whose verdict passed (`pass` or `baseline`), other than `excludeSweepId`.
   */
  lastPassingSweep(series: {
    scheduleName?: string;
    specName?: string;
    excludeSweepId?: string;
  }): Promise<string | undefined>;
  close(): Promise<void>;
}
