import { mergeParams, type PlannedTrial, type SweepSpec, trialIdFor } from '@grokmap/workflows';
import { adaptiveProposalSteps } from './adaptive.js';
import { bayesProposalSteps } from './bayes.js';
import { proposalDue, proposalRounds, visibleCutoff, visibleState } from './rounds.js';
import type { SamplerPoint, SamplerState } from './types.js';

export { initialSamplerState, observeTrials } from './observe.js';
export {
  leaveInStore,
  pointFromParams,
  restoreFromStore,
  type StoredTrial,
  StoredTrialsMismatch,
} from './stored.js';

/**
 * Suggestions for bayes and adaptive sweeps, in the sampler style of
 * DESIGN.md: `proposeTrials(state, n) → {trials, state}` and
 * `observeTrials(state, results) → state`, pure functions over the JSON
 * state of types.ts. Proposals fit models (GPs), so the workflow runs them
 * as an activity on the control queue and carries the state; the same
 * spec, seed and state always give the same trials.
 */

export interface SamplerProposal {
  trials: PlannedTrial[];
  state: SamplerState;
  /** True when the sampler will never propose again: the budget is spent or the map converged. */
  exhausted: boolean;
}

/**
 * Up to `n` new trials: one round (rounds.ts), at most its size. None while
 * the round is not due: a trial it is to see is still running, or a round's
 * worth of the fleet is not free.
 */
export function proposeTrials(
  spec: SweepSpec,
  sweepId: string,
  state: SamplerState,
  n: number,
): SamplerProposal {
  const steps = proposalSteps(spec, sweepId, state, n);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same proposal as proposeTrials, giving the event loop back between
 * its steps (each point a sampler picks), so timers such as an activity's
 * heartbeat keep running through a long proposal.
 */
export async function proposeTrialsYielding(
  spec: SweepSpec,
  sweepId: string,
  state: SamplerState,
  n: number,
): Promise<SamplerProposal> {
  const steps = proposalSteps(spec, sweepId, state, n);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function* proposalSteps(
  spec: SweepSpec,
  sweepId: string,
  state: SamplerState,
  n: number,
): Generator<void, SamplerProposal, void> {
  if (state.kind !== spec.method) {
    throw new Error(`sampler state is for method ${state.kind}, the spec says ${spec.method}`);
  }
  if (state.stored) {
    throw new Error(
      `the sampler state leaves its first ${state.stored.below} trials in the results store: restore them (restoreFromStore) before proposing`,
    );
  }
  const rounds = proposalRounds(spec);
  if (!proposalDue(state, rounds)) {
    return {
      trials: [],
      state,
      exhausted: state.converged === true || state.nextIndex >= spec.budget.trials,
    };
  }
  const visible = visibleState(state, visibleCutoff(state, rounds));
  const count = Math.max(0, Math.min(Math.floor(n), rounds.size, spec.budget.trials - state.nextIndex));
  let points: SamplerPoint[] = [];
  let next = state;
  if (!state.converged && (count > 0 || state.kind === 'adaptive')) {
    if (state.kind === 'bayes') {
      points = yield* bayesProposalSteps(spec, visible, count);
    } else {
      const proposal = yield* adaptiveProposalSteps(spec, visible, count);
      points = proposal.points;
      // The round's record (its map, convergence) is kept; the results it did not see are too.
      next = { ...proposal.state, observations: state.observations, pending: state.pending };
    }
  }
  const trials = points.map((point, k) => {
    const index = state.nextIndex + k;
    return { trialId: trialIdFor(sweepId, index), index, params: mergeParams(spec, point) };
  });
  const nextIndex = state.nextIndex + trials.length;
  return {
    trials,
    state: {
      ...next,
      nextIndex,
      round: next.round + (state.kind === 'bayes' && trials.length > 0 ? 1 : 0),
      pending: [...next.pending, ...trials.map((t, k) => ({ index: t.index, point: points[k]! }))],
    },
    exhausted: next.converged === true || nextIndex >= spec.budget.trials,
  };
}
