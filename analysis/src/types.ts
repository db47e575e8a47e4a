import type { CurvePoint, TrialOutcome } from '@grokmap/plugin-sdk';

/** The four phases of Liu et al. (2022), plus `mixed` for cells whose seeds disagree. */
export const PHASES = ['comprehension', 'grokking', 'memorization', 'confusion'] as const;
export type Phase = (typeof PHASES)[number];
export type CellPhase = Phase | 'mixed';

export interface PhaseRule {
  /** Accuracy threshold θ (0.99 by default; 0.9 to compare with Liu et al.). */
  threshold: number;
  /** Delay Δ in steps separating comprehension from grokking. */
  delaySteps: number;
}

/** The phase of one run and the numbers behind it. */
export interface PhaseClassification {
  phase: Phase;
  tTrain: number | null;
  tVal: number | null;
  /** R = t_val / t_train when both reached. */
  ratio: number | null;
  /** Validation accuracy at t_train (from the curve), when train reached. */
  valAtTrain: number | null;
  /** Validation rose by ≥ 0.1 after t_train but ended below θ. */
  semiGrokking: boolean;
}

/** A finished trial as the analysis sees it (from the store or from a reference file). */
export interface AnalysedTrial {
  trialId: string;
  params: Record<string, unknown>;
  status: TrialOutcome['status'] | 'running';
  /** null for trials that did not complete (failed, cancelled). */
  classification: PhaseClassification | null;
  curves?: CurvePoint[];
}

/** Axis of a phase diagram: a swept numeric parameter, possibly log-scaled. */
export interface Axis {
  name: string;
  log: boolean;
  min: number;
  max: number;
  /** Values sampled in the sweep (sorted, distinct). */
  values: number[];
}
