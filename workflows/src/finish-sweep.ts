import { CancellationScope, log } from '@temporalio/workflow';
import type { ControlActivities } from './activity-types.js';
import { lastWordsControlActivities } from './control-proxies.js';
import type { SweepState } from './sweep-state.js';
import type { SweepResult } from './sweep-workflow.js';
import type { PlannedTrial } from './trials.js';

/**
 * The last step of a sweep (whole, or the parent of partitions): record how
 * it ended — failed with the stop reason, or completed — write its report,
 * and return the result.
 */
export async function finishSweep(
  control: Pick<ControlActivities, 'finishSweep'>,
  sweepId: string,
  state: SweepState,
  writeReport: boolean,
): Promise<SweepResult> {
  const status = state.stopReason ? 'failed' : 'completed';
  const verdict = state.stopReason ? { verdict: state.stopReason } : {};
  const finished = await control.finishSweep({ sweepId, status, ...verdict, writeReport });
  return {
    sweepId,
    status,
    ...verdict,
    state,
    ...(finished.reportDir ? { reportDir: finished.reportDir } : {}),
  };
}

/**
 * A sweep whose workflow is about to fail for good (an activity out of
 * attempts, a partition failed) records it before it goes: its running
 * trials as cancelled, since their activities stop once the server ends the
 * workflow and record nothing, and, unless it is a partition (its parent
 * records the sweep), the sweep as failed with the verdict, so the store
 * does not say `running` forever. Best effort, in few attempts: when the
 * store is what failed, the workflow still fails at once with its own error.
 */
export async function recordSweepFailure(
  sweepId: string,
  verdict: string,
  running: readonly { trial: PlannedTrial; attempt?: number }[],
  recordSweep: boolean,
): Promise<void> {
  const control = lastWordsControlActivities();
  try {
    await CancellationScope.nonCancellable(async () => {
      await Promise.all(
        running.map((r) =>
          control.recordTrialFailure({
            sweepId,
            trial: r.trial,
            status: 'cancelled',
            attempts: r.attempt ?? 0,
            reason: `sweep failed: ${verdict}`,
          }),
        ),
      );
      if (recordSweep) await control.finishSweep({ sweepId, status: 'failed', verdict, writeReport: false });
    });
  } catch (err) {
    log.warn('could not record that the sweep failed', { sweepId, verdict, error: String(err) });
  }
}
