import type { ControlActivities } from './activity-types.js';
import type { SweepState } from './sweep-state.js';
import type { SweepResult } from './sweep-workflow.js';

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
