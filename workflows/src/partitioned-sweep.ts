import {
  CancellationScope,
  continueAsNew,
  executeChild,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { CONTROL_TASK_QUEUE } from './activity-types.js';
import { quickControlActivities, reportControlActivities } from './control-proxies.js';
import { finishSweep, recordSweepFailure } from './finish-sweep.js';
import { initialStaticState } from './samplers/static-sampler.js';
import type { SweepSpec } from './spec.js';
import { sweepFailureVerdict } from './sweep-failure.js';
import { partitionProgressSignal, progressQuery } from './sweep-messages.js';
import {
  DEFAULT_MAX_HISTORY_EVENTS,
  initialSweepState,
  mergePartitionCounts,
  nextPartition,
  type SweepProgress,
  type SweepState,
  shouldDrainForContinueAsNew,
} from './sweep-state.js';
import type { SweepInput, SweepResult } from './sweep-workflow.js';

export const DEFAULT_PARTITION_SIZE = 20_000;

/** Grid and random sweeps larger than one partition run as a parent of child sweeps. */
export function shouldPartition(spec: SweepSpec, partitionSize = DEFAULT_PARTITION_SIZE): boolean {
  return (
    (spec.method === 'grid' || spec.method === 'random') && initialStaticState(spec).total > partitionSize
  );
}

/**
 * A sweep past one workflow's limits: runs its plan as child sweeps, one
 * index range at a time, each continuing as new on its own. The parent's
 * history grows by a handful of events per partition (plus one signal per
 * child run), and it continues as new between partitions, never while a
 * child runs (a child outlives no parent run). Progress and cancellation
 * work from the parent: it sums its children's counts, and cancelling it
 * cancels the running child, which stops its trials.
 */
export async function runPartitionedSweep(input: SweepInput): Promise<SweepResult> {
  const { spec, sweepId } = input;
  const size = input.options?.partitionSize ?? DEFAULT_PARTITION_SIZE;
  const control = quickControlActivities();
  const reporting = reportControlActivities();
  const planned = initialStaticState(spec).total;
  // The parent's sampler index is the start of the next partition.
  let state: SweepState =
    input.carried ?? initialSweepState(planned, { kind: 'static', nextIndex: 0, total: planned });
  let live: Parameters<typeof mergePartitionCounts>[1] | undefined;
  let phase: SweepProgress['status'] = 'running';
  let current: string | undefined;

  setHandler(progressQuery, () => {
    const shown = live ? mergePartitionCounts(state, live) : state;
    return {
      sweepId,
      name: spec.name,
      method: spec.method,
      status: phase,
      planned: shown.planned,
      started: shown.started,
      finished: shown.finished,
      byStatus: shown.byStatus,
      byPhase: shown.byPhase,
      failures: shown.failures,
      runs: shown.runs,
      running: current ? [{ trialId: current, index: state.sampler.nextIndex }] : [],
      historyLength: workflowInfo().historyLength,
    };
  });
  setHandler(partitionProgressSignal, (counts) => {
    live = counts;
  });
  if (!input.carried) await control.registerSweep({ sweepId, spec, plannedTrials: planned });

  try {
    for (;;) {
      const range = nextPartition(state.sampler.nextIndex, planned, size);
      if (!range || state.stopReason) break;
      if (
        shouldDrainForContinueAsNew(workflowInfo().historyLength, workflowInfo().continueAsNewSuggested, 0, {
          maxHistoryEvents: input.options?.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS,
        })
      ) {
        await continueAsNew<typeof runPartitionedSweep>({
          ...input,
          carried: { ...state, runs: state.runs + 1 },
        });
      }
      current = `${workflowInfo().workflowId}.p${String(range.start / size).padStart(4, '0')}`;
      live = undefined;
      const result = await executeChild<(i: SweepInput) => Promise<SweepResult>>('sweepWorkflow', {
        workflowId: current,
        taskQueue: CONTROL_TASK_QUEUE,
        args: [
          {
            sweepId,
            spec,
            options: input.options ?? {},
            partition: { ...range, parentWorkflowId: workflowInfo().workflowId },
          },
        ],
      });
      state = {
        ...mergePartitionCounts(state, result.state),
        sampler: { kind: 'static', nextIndex: range.end, total: planned },
        ...(result.status === 'failed' ? { stopReason: result.verdict ?? 'a partition failed' } : {}),
      };
      current = undefined;
    }
  } catch (err) {
    const verdict = sweepFailureVerdict(err);
    if (verdict !== undefined) {
      phase = 'failing';
      await recordSweepFailure(sweepId, verdict, [], true);
    }
    if (!isCancellation(err)) throw err;
    phase = 'cancelling';
    await CancellationScope.nonCancellable(() =>
      control.finishSweep({
        sweepId,
        status: 'cancelled',
        verdict: 'cancelled by request',
        writeReport: false,
      }),
    );
    throw err;
  }

  phase = 'finishing';
  return finishSweep(reporting, sweepId, state, input.options?.writeReport ?? true);
}
