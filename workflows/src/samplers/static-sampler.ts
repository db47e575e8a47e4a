import type { SweepSpec } from '../spec.js';
import { plannedTrialCount, staticPlanner } from '../trials.js';
import type { Proposal, Sampler } from './sampler.js';

/** Grid and random sweeps: the plan is fixed up front, so the state is just the next index. */
export interface StaticSamplerState {
  kind: 'static';
  nextIndex: number;
  total: number;
}

export function initialStaticState(spec: SweepSpec): StaticSamplerState {
  return { kind: 'static', nextIndex: 0, total: plannedTrialCount(spec) };
}

export function staticSampler(spec: SweepSpec, sweepId: string): Sampler<StaticSamplerState> {
  const plan = staticPlanner(spec, sweepId);
  return {
    propose(state, n): Proposal<StaticSamplerState> {
      const end = Math.min(state.total, state.nextIndex + Math.max(0, n));
      const trials = [];
      for (let i = state.nextIndex; i < end; i++) trials.push(plan(i));
      return { trials, state: { ...state, nextIndex: end }, exhausted: end >= state.total };
    },
    observe: (state) => state,
  };
}
