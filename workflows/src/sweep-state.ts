import type {
  ModelSamplerState,
  PhaseName,
  RecordTrialFailureResult,
  TrialSummary,
} from './activity-types.js';
import type { StaticSamplerState } from './samplers/static-sampler.js';
import type { SweepSpec } from './spec.js';

/**
 * Everything a sweep carries across continue-as-new: counts and the
 * sampler's compact state, never curves or per-trial records (those are in
 * the results store). Updated only through the pure functions below.
 */
export interface SweepState {
  /** Grid/random: the next index. Bayes/adaptive: the model sampler's observations and pending trials. */
  sampler: StaticSamplerState | ModelSamplerState;
  planned: number;
  started: number;
  finished: number;
  byStatus: Record<string, number>;
  byPhase: Partial<Record<PhaseName, number>>;
  /** Failures that count against the failure budget (error, timed_out). */
  failures: number;
  /** How many workflow runs this sweep has used (1 + continue-as-new count). */
  runs: number;
  stopReason?: string;
}

export function initialSweepState(planned: number, sampler: SweepState['sampler']): SweepState {
  return { sampler, planned, started: 0, finished: 0, byStatus: {}, byPhase: {}, failures: 0, runs: 1 };
}

const FAILURE_STATUSES = new Set(['error', 'timed_out']);

export function applyTrialSummary(
  state: SweepState,
  summary: Pick<TrialSummary, 'status' | 'phase'>,
): SweepState {
  const byStatus = { ...state.byStatus, [summary.status]: (state.byStatus[summary.status] ?? 0) + 1 };
  const byPhase = { ...state.byPhase };
  if (summary.phase) byPhase[summary.phase] = (byPhase[summary.phase] ?? 0) + 1;
  return {
    ...state,
    finished: state.finished + 1,
    byStatus,
    byPhase,
    failures: state.failures + (FAILURE_STATUSES.has(summary.status) ? 1 : 0),
  };
}

/**
 * The failure budget: unlimited unless the spec sets `budget.max_failures`. `earlier` counts
 * failures of the sweep outside this state (a partition: those of the partitions before it).
 */
export function failureBudgetSpent(state: SweepState, spec: Pick<SweepSpec, 'budget'>, earlier = 0): boolean {
  const max = spec.budget.max_failures;
  return max !== undefined && state.failures + earlier > max;
}

/** Why a sweep stopped for its failure budget. */
export function failureBudgetReason(failures: number, spec: Pick<SweepSpec, 'budget'>): string {
  return `failure budget spent: ${failures} failed trials, budget.max_failures is ${spec.budget.max_failures}`;
}

export interface ContinueAsNewPolicy {
  /** Continue as new once this many history events have accumulated (default well below the 10,240 warning). */
  maxHistoryEvents: number;
}

export const DEFAULT_MAX_HISTORY_EVENTS = 6_000;

/**
 * Whether to stop starting trials so the run can drain and continue as new.
 * Leaves room for the in-flight trials' remaining events (about 6 each).
 */
export function shouldDrainForContinueAsNew(
  historyLength: number,
  serverSuggests: boolean,
  inFlight: number,
  policy: ContinueAsNewPolicy,
): boolean {
  return serverSuggests || historyLength + inFlight * 6 >= policy.maxHistoryEvents;
}

/**
 * Activities in flight among the running trials, each tagged with the
 * activity (pack) it runs in: what the history reserve before
 * continue-as-new counts, since a pack's trials end in one activity's events.
 */
export function activitiesInFlight(running: Iterable<{ activity: number }>): number {
  const activities = new Set<number>();
  for (const r of running) activities.add(r.activity);
  return activities.size;
}

export interface RunningTrial {
  trialId: string;
  index: number;
  step?: number;
  attempt?: number;
}

export interface SweepProgress {
  sweepId: string;
  name: string;
  method: string;
  status: 'running' | 'draining' | 'stopping' | 'finishing' | 'cancelling' | 'failing';
  planned: number;
  started: number;
  finished: number;
  byStatus: Record<string, number>;
  byPhase: Partial<Record<PhaseName, number>>;
  failures: number;
  runs: number;
  running: RunningTrial[];
  historyLength: number;
  /**
   * Bayes and adaptive sweeps: the next proposal round, from trial `startsAt`, and the running
   * trials it waits for (it sees their results); absent when the sampler is done.
   */
  nextRound?: { startsAt: number; waitsFor: string[] };
}

/** The next index range of a partitioned sweep, or undefined when the plan is done. */
export function nextPartition(
  start: number,
  planned: number,
  size: number,
): { start: number; end: number } | undefined {
  if (start >= planned) return undefined;
  return { start, end: Math.min(planned, start + size) };
}

/** Add a partition's counts to the parent's. */
export function mergePartitionCounts(
  parent: SweepState,
  child: Pick<SweepState, 'finished' | 'started' | 'byStatus' | 'byPhase' | 'failures'>,
): SweepState {
  const byStatus = { ...parent.byStatus };
  for (const [k, v] of Object.entries(child.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v;
  const byPhase = { ...parent.byPhase };
  for (const [k, v] of Object.entries(child.byPhase) as [PhaseName, number][])
    byPhase[k] = (byPhase[k] ?? 0) + v;
  return {
    ...parent,
    started: parent.started + child.started,
    finished: parent.finished + child.finished,
    failures: parent.failures + child.failures,
    byStatus,
    byPhase,
  };
}

/** Proposed trials cut into packs of at most `size`, in order (`resources.pack`; 1 means one trial per activity). */
export function packsOf<T>(trials: readonly T[], size: number): T[][] {
  const packs: T[][] = [];
  for (let i = 0; i < trials.length; i += size) packs.push(trials.slice(i, i + size));
  return packs;
}

/**
 * How the trials of a trainer activity that failed for good (every attempt) ended: as the store
 * says where it already had a final record (a pack's trials finished before the pack failed),
 * else with the activity's failure.
 */
export function failedActivityOutcomes(
  trials: readonly Pick<TrialSummary, 'trialId' | 'index'>[],
  records: readonly RecordTrialFailureResult[],
  status: 'error' | 'timed_out',
): Pick<TrialSummary, 'trialId' | 'index' | 'status' | 'phase' | 'metric'>[] {
  return trials.map(({ trialId, index }, i) => {
    const stored = records[i]?.stored;
    return stored ? { trialId, index, ...stored } : { trialId, index, status, phase: null, metric: null };
  });
}
