import type { SweepProgress } from '@grokmap/workflows';

/** Trial ids named in full before the rest are counted. */
const SHOWN = 3;

/**
 * One line of `sweep status` for a bayes or adaptive sweep: where its next
 * proposal round starts and which running trials it waits for. With
 * pipelined rounds this is what explains a fleet that is partly idle.
 */
export function describeNextRound(progress: Pick<SweepProgress, 'nextRound'>): string | undefined {
  const next = progress.nextRound;
  if (!next) return undefined;
  if (next.waitsFor.length === 0) return `next round: from trial ${next.startsAt}, waits for no trial`;
  const named = next.waitsFor.slice(0, SHOWN).join(', ');
  const more = next.waitsFor.length > SHOWN ? ` and ${next.waitsFor.length - SHOWN} more` : '';
  return `next round: from trial ${next.startsAt}, waits for ${named}${more} to finish`;
}
