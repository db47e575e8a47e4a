import type { UnreadableTrial } from '@grokmap/workers';

/** What status, watch and the report say about a trial row the store could not read. */
export function unreadableTrialWarning(u: UnreadableTrial): string {
  return `trial ${u.trialId}: record unreadable in the results store (${u.problem})`;
}
