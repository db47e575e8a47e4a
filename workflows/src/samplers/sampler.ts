import type { TrialSummary } from '../activity-types.js';
import type { PlannedTrial } from '../trials.js';

/**
 * The sampler contract (Optuna's ask/tell, Ray's suggest/on_trial_complete):
 * pure functions over serializable state, so a workflow can carry the state
 * through continue-as-new and a unit test needs no Temporal.
 */
export interface Proposal<S> {
  trials: PlannedTrial[];
  state: S;
  /** True when the sampler will never propose again (plan exhausted or converged). */
  exhausted: boolean;
}

export interface Sampler<S> {
  propose(state: S, n: number): Proposal<S>;
  observe(state: S, results: TrialSummary[]): S;
}
