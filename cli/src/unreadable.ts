import type { UnreadableSweep, UnreadableTrial } from '@grokmap/workers';

/** What status, watch and the report say about a trial row the store could not read. */
export function unreadableTrialWarning(u: UnreadableTrial): string {
  return `trial ${u.trialId}: record unreadable in the results store (${u.problem})`;
}

/** What `sweep list` says about a sweep row the store could not read. */
export function unreadableSweepWarning(u: UnreadableSweep): string {
  return `sweep ${u.sweepId}: record unreadable in the results store (${u.problem})`;
}
