import type { ProposalRounds } from '@grokmap/workflows';
import type { SamplerState } from './types.js';

/**
 * When a bayes or adaptive sweep may propose, and what a proposal sees.
 *
 * A sweep proposes in rounds of `size` trials: its batch (`bayes.batch`,
 * `adaptive.batch`), at most budget.parallel. A round starting at trial
 * `nextIndex` sees the results of exactly the trials below its cutoff,
 * `nextIndex − lag`; later trials, finished or not, count as pending (their
 * points only). It may be proposed once every trial below the cutoff has
 * finished and a whole round's worth of the fleet is free. The first rounds
 * of a lagged sweep see nothing: they are space-filling, like the initial
 * design (bayes proposes design points until it has two results; adaptive
 * spreads them by the map's variance). What a round sees and how many
 * trials it holds so depend only on where it starts, never on which trials
 * happened to finish first: a sweep's trials stay a function of its seed.
 *
 * With whole batches (the default batch, budget.parallel) `budget.lag`
 * defaults to 0: a round waits for the whole previous round, as model-based
 * sweeps always did, and the fleet idles while that round's slowest trial
 * finishes. Smaller rounds default to a lag of 2·parallel − size, so that
 * slow trials up to two fleets' worth back do not hold the next round: on
 * a simulated fleet of 16 with trial times spread log-normally (σ 0.6),
 * rounds of 4 kept it 59–66% busy against 39–42% for whole batches, where
 * the lag of the rounds that merely fit beside one another (12) gave 44–45%
 * (`pnpm bench sampling`, docs/scale.md). The price is proposals that see
 * results later.
 */
export { type ProposalRounds, proposalRounds } from '@grokmap/workflows';

/** Trials with an index below this are the results the round starting at `nextIndex` sees. */
export function visibleCutoff(state: Pick<SamplerState, 'nextIndex'>, rounds: ProposalRounds): number {
  return Math.max(0, state.nextIndex - rounds.lag);
}

/**
 * Whether the next round may be proposed: every trial it is to see has
 * finished, and a whole round fits beside the trials in flight (pending).
 */
export function proposalDue(
  state: Pick<SamplerState, 'nextIndex' | 'pending'>,
  rounds: ProposalRounds,
): boolean {
  const blockers = roundBlockers(state, rounds);
  return !blockers.fleetFull && blockers.indices.length === 0;
}

/**
 * What the next round waits for: the trials it is to see that are still
 * running (indices, ascending), and whether the fleet lacks room for it.
 */
export function roundBlockers(
  state: Pick<SamplerState, 'nextIndex' | 'pending'>,
  rounds: ProposalRounds,
): { indices: number[]; fleetFull: boolean } {
  const cutoff = visibleCutoff(state, rounds);
  return {
    indices: state.pending
      .filter((p) => p.index < cutoff)
      .map((p) => p.index)
      .sort((a, b) => a - b),
    fleetFull: state.pending.length + rounds.size > rounds.parallel,
  };
}

/** The state as the next round sees it: results at or past `cutoff` are pending again. */
export function visibleState(state: SamplerState, cutoff: number): SamplerState {
  if (state.observations.every((o) => o.index < cutoff)) return state;
  const hidden = state.observations
    .filter((o) => o.index >= cutoff)
    .map(({ index, point }) => ({ index, point }));
  return {
    ...state,
    observations: state.observations.filter((o) => o.index < cutoff),
    pending: [...hidden, ...state.pending].sort((a, b) => a.index - b.index),
  };
}
