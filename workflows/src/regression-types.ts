/**
 * Shapes of a regression check: the thresholds a comparison applies, the
 * verdict it returns, and the control activities the regression workflow
 * calls. Types and pure helpers only: safe in workflow code.
 */

export const REGRESSION_VERDICTS = ['pass', 'regressed', 'inconclusive', 'baseline', 'failed'] as const;
export type RegressionVerdictKind = (typeof REGRESSION_VERDICTS)[number];

/** Verdicts that make a run a baseline for later `last-pass` comparisons. */
export const PASSING_VERDICTS: readonly RegressionVerdictKind[] = ['pass', 'baseline'];

/**
 * Verdicts a webhook hears about: the phase diagram moved, or the sweep failed (every trial
 * crashing is a regression of the training code too, and a check that could not run is news).
 */
export const NOTIFYING_VERDICTS: readonly RegressionVerdictKind[] = ['regressed', 'failed'];

/** `last-pass`: the latest passing run of the same schedule; `none`: no comparison; else a sweep id. */
export type BaselineRef = 'last-pass' | 'none' | (string & {});

export interface RegressionThresholds {
  /** Largest share of compared cells whose phase may change. */
  maxChangedCells: number;
  /** Largest shift of a boundary point (in units of the `along` parameter). */
  maxBoundaryShift: number;
  /** Share of the baseline's cells whose seeds must agree for a verdict other than inconclusive. */
  minConfidence: number;
  /** Boundary points whose baseline interval is wider than this share of the sampled range are not judged. */
  maxBaselineWidth: number;
  /** Largest factor by which the median delay ratio may change; unchecked when absent. */
  maxDelayRatioChange?: number;
}

export const DEFAULT_THRESHOLDS: RegressionThresholds = {
  maxChangedCells: 0.1,
  maxBoundaryShift: 0.1,
  minConfidence: 0.5,
  maxBaselineWidth: 0.5,
};

export interface CellChange {
  /** Canonical JSON of the cell's parameters (seed excluded). */
  key: string;
  params: Record<string, unknown>;
  baseline: string | null;
  current: string | null;
}

export interface BoundaryShift {
  /** Values of the grouping parameters (model size, say). */
  group: Record<string, unknown>;
  /** Value of the `by` parameter. */
  at: number;
  baseline: { estimate: number; lo: number; hi: number };
  current: { estimate: number; lo: number; hi: number };
  /** current − baseline estimate. */
  shift: number;
  /** The current estimate lies outside the baseline's bootstrap interval. */
  outsideInterval: boolean;
  /** The baseline's interval is too wide to judge this point. */
  uncertain: boolean;
  /** Counts against the run: |shift| above the threshold, outside the interval, and judged. */
  exceeds: boolean;
}

export interface DelayRatioChange {
  /** Median over compared cells of each cell's median R = t_val / t_train; null when none has one. */
  baselineMedian: number | null;
  currentMedian: number | null;
  /** current / baseline; null when either is missing. */
  factor: number | null;
  exceeds: boolean;
}

export interface RegressionComparison {
  verdict: RegressionVerdictKind;
  /** Why, one line each, for people and notifications. */
  reasons: string[];
  /** Cells classified in both sweeps. */
  comparedCells: number;
  changedCells: CellChange[];
  /** changedCells / comparedCells (0 when nothing was compared). */
  changedShare: number;
  /** Share of the baseline's classified cells whose seeds agree (not mixed). */
  baselineConfidence: number;
  boundary: { along: string; by: string; shifts: BoundaryShift[] } | null;
  delayRatio: DelayRatioChange;
  thresholds: RegressionThresholds;
}

/** What a regression run returns and stores. */
export interface RegressionVerdict extends RegressionComparison {
  sweepId: string;
  baselineSweepId: string | null;
  scheduleName: string | null;
  specName: string;
  /** The side-by-side page, when one was written. */
  reportFile?: string;
}

export interface NotifyTarget {
  url: string;
  format: 'json' | 'slack';
}

export interface CompareToBaselineInput {
  sweepId: string;
  specName: string;
  scheduleName?: string;
  baseline: BaselineRef;
  thresholds: RegressionThresholds;
}

export interface NotifyRegressionInput {
  target: NotifyTarget;
  verdict: RegressionVerdict;
}

export interface RegressionActivities {
  compareToBaseline(input: CompareToBaselineInput): Promise<RegressionVerdict>;
  recordRegression(verdict: RegressionVerdict): Promise<void>;
  notifyRegression(input: NotifyRegressionInput): Promise<void>;
}

/** Thresholds from a spec's `regression` block (defaults where absent). */
export function thresholdsFromSpec(
  regression:
    | {
        max_changed_cells: number;
        max_boundary_shift: number;
        min_confidence?: number;
        max_baseline_width?: number;
        max_delay_ratio_change?: number | undefined;
      }
    | undefined,
): RegressionThresholds {
  if (!regression) return { ...DEFAULT_THRESHOLDS };
  return {
    maxChangedCells: regression.max_changed_cells,
    maxBoundaryShift: regression.max_boundary_shift,
    minConfidence: regression.min_confidence ?? DEFAULT_THRESHOLDS.minConfidence,
    maxBaselineWidth: regression.max_baseline_width ?? DEFAULT_THRESHOLDS.maxBaselineWidth,
    ...(regression.max_delay_ratio_change !== undefined
      ? { maxDelayRatioChange: regression.max_delay_ratio_change }
      : {}),
  };
}

/**
 * The sweep id of a regression run: its workflow id with anything that is
 * not safe in a file name replaced (schedules append an ISO instant), plus
 * `-sweep`. The child sweep workflow runs under this id too.
 */
export function regressionSweepId(regressionWorkflowId: string): string {
  return `${regressionWorkflowId.replace(/[^A-Za-z0-9._-]/g, '-')}-sweep`;
}

/** Workflow id prefix of a schedule's runs (Temporal appends the time of each run). */
export function scheduleWorkflowIdPrefix(scheduleName: string): string {
  return `regression-${scheduleName}`;
}
