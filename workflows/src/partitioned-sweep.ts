import {
  CancellationScope,
  continueAsNew,
  executeChild,
  isCancellation,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { CONTROL_TASK_QUEUE } from './activity-types.js';
import { quickControlActivities, reportControlActivities } from './control-proxies.js';
import { finishSweep, recordSweepFailure } from './finish-sweep.js';
import { initialStaticState } from './samplers/static-sampler.js';
import { shardRangeSize, slotParallel } from './shards.js';
import type { SweepSpec } from './spec.js';
import { sweepFailureVerdict } from './sweep-failure.js';
import { type PartitionCounts, partitionProgressSignal, progressQuery } from './sweep-messages.js';
import {
  DEFAULT_MAX_HISTORY_EVENTS,
  failureBudgetReason,
  failureBudgetSpent,
  initialSweepState,
  mergePartitionCounts,
  nextPartition,
  type SweepProgress,
  type SweepState,
  shouldDrainForContinueAsNew,
} from './sweep-state.js';
import type { SweepInput, SweepResult, sweepWorkflow } from './sweep-workflow.js';

export const DEFAULT_PARTITION_SIZE = 20_000;
/** Patch marker: the parent checks the failure budget over all its partitions' failures. */
const SWEEP_WIDE_FAILURE_BUDGET = 'sweep-wide-failure-budget';

/** Grid and random sweeps larger than one partition run as a parent of child sweeps. */
export function shouldPartition(spec: SweepSpec, partitionSize = DEFAULT_PARTITION_SIZE): boolean {
  return (
    (spec.method === 'grid' || spec.method === 'random') && initialStaticState(spec).total > partitionSize
  );
}

/**
 * A sweep past one workflow's limits, or wider than one shard (shards.ts):
 * runs its plan as child sweeps over index ranges, up to `shards` at once,
 * each with its slot's share of `budget.parallel` and continuing as new on
 * its own. The parent's history grows by a handful of events per child
 * (plus one signal per child run), and it continues as new only while no
 * child runs: between partitions when it runs one at a time, after letting
 * its children finish when it runs several (about every few hundred
 * children). Progress and cancellation work from the parent: it sums its
 * children's counts, and cancelling it cancels the running children, which
 * stop their trials. A child that fails, or spends the failure budget,
 * stops the others.
 */
export async function runPartitionedSweep(input: SweepInput, shards: number): Promise<SweepResult> {
  const { spec, sweepId } = input;
  const maxSize = input.options?.partitionSize ?? DEFAULT_PARTITION_SIZE;
  const size = shards > 1 ? shardRangeSize(spec, shards, maxSize) : maxSize;
  const control = quickControlActivities();
  const reporting = reportControlActivities();
  const planned = initialStaticState(spec).total;
  const maxHistoryEvents = input.options?.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  // The parent's sampler index is the start of the next range to launch; every range before it
  // has finished whenever no child runs, the only time the parent continues as new.
  let state: SweepState =
    input.carried ?? initialSweepState(planned, { kind: 'static', nextIndex: 0, total: planned });
  type Finished = { workflowId: string; result: SweepResult };
  /** Running children by workflow id: their slot, their counts as they last reported them, their end. */
  const running = new Map<
    string,
    { slot: number; index: number; live?: PartitionCounts; done: Promise<Finished> }
  >();
  let phase: SweepProgress['status'] = 'running';
  // Children run in their own scope, so a failing one can stop the others.
  const children = new CancellationScope();

  setHandler(progressQuery, () => {
    let shown = state;
    for (const child of running.values()) if (child.live) shown = mergePartitionCounts(shown, child.live);
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
      running: [...running].map(([trialId, child]) => ({ trialId, index: child.index })),
      historyLength: workflowInfo().historyLength,
    };
  });
  setHandler(partitionProgressSignal, (counts) => {
    // Children of earlier versions name no workflow: with one child at a time, it is the running one.
    const child = counts.workflowId ? running.get(counts.workflowId) : [...running.values()][0];
    if (child) child.live = counts;
  });
  if (!input.carried) await control.registerSweep({ sweepId, spec, plannedTrials: planned });

  const launch = (range: { start: number; end: number }, slot: number) => {
    const workflowId = `${workflowInfo().workflowId}.p${String(range.start / size).padStart(4, '0')}`;
    const parallel = slotParallel(spec.budget.parallel, shards, slot);
    const child = children.run(() =>
      executeChild<(i: SweepInput) => Promise<SweepResult>>('sweepWorkflow', {
        workflowId,
        taskQueue: CONTROL_TASK_QUEUE,
        args: [
          {
            sweepId,
            spec: shards > 1 ? { ...spec, budget: { ...spec.budget, parallel } } : spec,
            options: input.options ?? {},
            partition: {
              ...range,
              parentWorkflowId: workflowInfo().workflowId,
              ...(state.failures > 0 ? { failuresBefore: state.failures } : {}),
            },
          },
        ],
      }),
    );
    running.set(workflowId, {
      slot,
      index: range.start,
      done: child.then((result) => ({ workflowId, result })),
    });
  };

  try {
    for (;;) {
      while (running.size < shards && !state.stopReason) {
        const range = nextPartition(state.sampler.nextIndex, planned, size);
        if (!range) break;
        const drain = shouldDrainForContinueAsNew(
          workflowInfo().historyLength,
          workflowInfo().continueAsNewSuggested,
          running.size,
          { maxHistoryEvents },
        );
        if (drain && running.size > 0) break;
        if (drain) {
          await continueAsNew<typeof sweepWorkflow>({
            ...input,
            ...(shards > 1 ? { shards } : {}),
            carried: { ...state, runs: state.runs + 1 },
          });
        }
        const busy = new Set([...running.values()].map((c) => c.slot));
        launch(range, [...Array(shards).keys()].find((slot) => !busy.has(slot))!);
        state = { ...state, sampler: { kind: 'static', nextIndex: range.end, total: planned } };
      }
      if (running.size === 0) break;
      const { workflowId, result } = await Promise.race([...running.values()].map((c) => c.done));
      running.delete(workflowId);
      state = {
        ...mergePartitionCounts(state, result.state),
        ...(result.status === 'failed' && !state.stopReason
          ? { stopReason: result.verdict ?? 'a partition failed' }
          : {}),
      };
      // Shards side by side each count only the failures before they started: the sum is checked here.
      if (!state.stopReason && failureBudgetSpent(state, spec) && patched(SWEEP_WIDE_FAILURE_BUDGET))
        state = { ...state, stopReason: failureBudgetReason(state.failures, spec) };
      // The failure budget spent in one child stops the others.
      if (state.stopReason && running.size > 0) await stopChildren(children, running);
    }
  } catch (err) {
    const verdict = sweepFailureVerdict(err);
    if (verdict !== undefined) {
      phase = 'failing';
      if (running.size > 0) await stopChildren(children, running);
      await recordSweepFailure(sweepId, verdict, [], true);
    }
    if (!isCancellation(err)) throw err;
    phase = 'cancelling';
    await CancellationScope.nonCancellable(async () => {
      // Every child was asked to cancel with this workflow; the sweep is over once each has
      // recorded its trials.
      await Promise.allSettled([...running.values()].map((c) => c.done));
      await control.finishSweep({
        sweepId,
        status: 'cancelled',
        verdict: 'cancelled by request',
        writeReport: false,
      });
    });
    throw err;
  }

  phase = 'finishing';
  return finishSweep(reporting, sweepId, state, input.options?.writeReport ?? true);
}

/** Cancel the running children and wait until each has ended (recording its trials as cancelled). */
async function stopChildren(
  children: CancellationScope,
  running: Map<string, { done: Promise<unknown> }>,
): Promise<void> {
  children.cancel();
  await CancellationScope.nonCancellable(() => Promise.allSettled([...running.values()].map((c) => c.done)));
  running.clear();
}
