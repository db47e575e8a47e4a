import type { TrialStatus } from '@grokmap/plugin-sdk';
import type { Phase } from '../types.js';

/**
 * The state of a bayes or adaptive sampler: plain JSON, so a workflow can
 * carry it through continue-as-new. It holds what the next proposal needs
 * and nothing more: one small record per trial (its point, phase and
 * metric, never curves) from the oldest unfinished trial on, the earlier
 * ones being in the results store (`stored`, see stored.ts), and, for
 * adaptive sweeps, a one-character-per-cell summary of the last estimated map.
 */

/** A parameter value a sampler proposes (the spec's categorical values are scalars in practice). */
export type PointValue = number | string | boolean;
export type SamplerPoint = Record<string, PointValue>;

export interface SamplerObservation {
  index: number;
  point: SamplerPoint;
  /** null when the trial failed (error, timed out, cancelled) or was not classified. */
  phase: Phase | null;
  /** The spec's metric; null when the trial failed or did not report it. */
  metric: number | null;
  /**
   * The metric is a bound, not a value: the run hit max_steps before the
   * event the metric times (steps_to_generalize of a run that never
   * generalized is max_steps). The sampler counts it at that value.
   */
  censored: boolean;
}

export interface PendingTrial {
  index: number;
  point: SamplerPoint;
}

/** The last estimated phase map, compact: enough to tell whether the next one differs. */
export interface MapSummary {
  /** Round at which it was estimated. */
  round: number;
  /** Observations with a phase it was fitted on. */
  observed: number;
  /** One character per dense-grid cell (first axis slowest): c, g, m or x for the most probable phase. */
  cells: string;
  /** Share of cells whose phase differs from the map before it (1 for the first map). */
  change: number;
  /** Rounds in a row whose change stayed at or below stop_when.max_change. */
  settled: number;
}

export interface SamplerState {
  kind: 'bayes' | 'adaptive';
  /** Index of the next trial to propose; trial ids are trialIdFor(sweepId, index). */
  nextIndex: number;
  observations: SamplerObservation[];
  /** Proposed and not yet observed. */
  pending: PendingTrial[];
  /** Models fitted so far (adaptive: phase maps estimated; bayes: GP proposals made). */
  round: number;
  /** The spec's metric name (bayes), so observeTrials can tell censored step counts. */
  metricName?: string;
  /** Adaptive: the map stopped changing (stop_when), so the sampler proposes nothing more. */
  converged?: boolean;
  lastMap?: MapSummary;
  /**
   * The trials below `below`, all finished, are not in `observations`: the
   * results store holds them (stored.ts). `digest` is that of their
   * observations, so a proposal reading them back can tell they are the same.
   */
  stored?: { below: number; digest: string };
}

/** What the sampler needs of a finished trial (a subset of the workflow's TrialSummary). */
export interface SamplerResult {
  index: number;
  status: TrialStatus;
  phase: Phase | null;
  metric: number | null;
  /** Whether `metric` is a censored bound; inferred when absent (see observeTrials). */
  censored?: boolean;
}
