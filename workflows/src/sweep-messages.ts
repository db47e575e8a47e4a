import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SweepProgress, SweepState } from './sweep-state.js';

// Queries and signals of the sweep workflow, in their own module so the
// partitioned parent and the client share them without an import cycle.

export const progressQuery = defineQuery<SweepProgress>('progress');
/** A partition's counts so far, and its workflow id (absent from children of earlier versions). */
export type PartitionCounts = Pick<
  SweepState,
  'finished' | 'started' | 'byStatus' | 'byPhase' | 'failures'
> & {
  workflowId?: string;
};
/** A partition's counts so far, sent to its parent sweep. */
export const partitionProgressSignal = defineSignal<[PartitionCounts]>('partitionProgress');
/** A running trial's latest step, as its worker reports it. */
export interface TrialProgress {
  trialId: string;
  step: number;
  attempt: number;
}
/**
 * Sent (throttled) by running trials of workers before heartbeat progress, so `progress` showed each
 * one's latest step; kept so those workers' signals are still understood during an upgrade.
 */
export const trialProgressSignal = defineSignal<[TrialProgress]>('trialProgress');
/** The same for the trials of a pack, in one signal per interval rather than one per trial. */
export const trialsProgressSignal = defineSignal<[{ trials: TrialProgress[] }]>('trialsProgress');
