import type { SweepSpec } from './spec.js';

/**
 * The rounds a bayes or adaptive sweep proposes in: `size` trials each (its
 * batch, at most budget.parallel), each seeing the results of the trials
 * more than `lag` behind where it starts. The rule for when a round is due
 * and what it sees is analysis/src/samplers/rounds.ts; the sizes live here
 * because the spec's limits depend on them (sampler-state-size.ts).
 */
export interface ProposalRounds {
  size: number;
  lag: number;
  parallel: number;
}

type RoundsSpec = Pick<SweepSpec, 'method' | 'budget' | 'adaptive' | 'bayes'>;

export function proposalRounds(spec: RoundsSpec): ProposalRounds {
  const parallel = spec.budget.parallel;
  const batch = (spec.method === 'adaptive' ? spec.adaptive?.batch : spec.bayes?.batch) ?? parallel;
  const size = Math.min(batch, parallel);
  const lag = spec.budget.lag ?? (size < parallel ? 2 * parallel - size : 0);
  return { size, lag, parallel };
}
