import type { TrialStatus } from '@grokmap/plugin-sdk';
import type { SweepSpec } from './spec.js';
import type { PlannedTrial } from './trials.js';

/**
 * Activity signatures the workflows call. Types only: the implementations
 * live in @grokmap/workers, and workflow code must not import them.
 */

export type PhaseName = 'comprehension' | 'grokking' | 'memorization' | 'confusion';

/** What a workflow keeps of a finished trial: small, never curves. */
export interface TrialSummary {
  trialId: string;
  index: number;
  status: TrialStatus;
  phase: PhaseName | null;
  tTrain: number | null;
  tVal: number | null;
  /** The spec's metric for bayes sweeps, when the trial produced it. */
  metric: number | null;
  attempts: number;
  reason?: string;
  /** False when the store already held this trial's final record (a replayed or duplicate attempt). */
  recorded: boolean;
}

export interface RunTrialInput {
  sweepId: string;
  trainer: string;
  trial: PlannedTrial;
  threshold: number;
  delaySteps: number;
  metricName?: string;
}

/** The trials of a pack: the worker trains them in one process (together, where the trainer packs). */
export interface RunTrialPackInput extends Omit<RunTrialInput, 'trial'> {
  trials: PlannedTrial[];
}

export interface TrainerActivities {
  runTrial(input: RunTrialInput): Promise<TrialSummary>;
  /** One summary per trial, in order. */
  runTrialPack(input: RunTrialPackInput): Promise<TrialSummary[]>;
}

export interface RegisterSweepInput {
  sweepId: string;
  spec: SweepSpec;
  plannedTrials: number;
}

export interface RecordTrialFailureInput {
  sweepId: string;
  trial: PlannedTrial;
  status: 'error' | 'timed_out' | 'cancelled';
  attempts: number;
  reason: string;
  /** The spec's metric, so a trial that had already finished is counted with its metric (see `stored`). */
  metricName?: string;
}

/**
 * `recorded: false` when the trial already had a final record (the failure is then not written);
 * `stored` is that record's outcome, so the workflow counts the trial as it really ended.
 */
export interface RecordTrialFailureResult {
  recorded: boolean;
  stored?: Pick<TrialSummary, 'status' | 'phase' | 'metric'>;
}

export interface FinishSweepInput {
  sweepId: string;
  status: 'completed' | 'failed' | 'cancelled';
  verdict?: string;
  writeReport: boolean;
}

/** A bayes/adaptive sampler's serializable state (defined with the samplers in @grokmap/analysis). */
export type ModelSamplerState = import('@grokmap/analysis/sampler-types').SamplerState;

export interface SuggestTrialsInput {
  sweepId: string;
  spec: SweepSpec;
  state: ModelSamplerState;
  n: number;
}

export interface SuggestTrialsResult {
  trials: PlannedTrial[];
  state: ModelSamplerState;
  exhausted: boolean;
}

export interface ControlActivities {
  registerSweep(input: RegisterSweepInput): Promise<void>;
  /** Propose the next trials of a bayes or adaptive sweep (fits models; deterministic for the spec's seed and state). */
  suggestTrials(input: SuggestTrialsInput): Promise<SuggestTrialsResult>;
  recordTrialFailure(input: RecordTrialFailureInput): Promise<RecordTrialFailureResult>;
  finishSweep(input: FinishSweepInput): Promise<{ reportDir?: string }>;
}

export const CONTROL_TASK_QUEUE = 'grokmap-control';
export function trainerTaskQueue(queue: string): string {
  return `grokmap-train-${queue}`;
}
