import type { PlannedTrial, SweepSpec } from '@grokmap/workflows';
import { proposalDue, proposalRounds } from '../samplers/rounds.js';
import { initialSamplerState, observeTrials, proposeTrials } from '../samplers/suggest.js';
import type { SamplerResult } from '../samplers/types.js';

/**
 * A bayes or adaptive sweep on a simulated fleet of `budget.parallel`
 * workers, in simulated time: proposals when the sweep workflow makes them
 * (a round is due and a slot is free; after an empty proposal, only once
 * another trial has finished), trials finishing in order of their end
 * times. For tests and the sampling bench: what trials a sweep runs when
 * trials take different times, and how busy it keeps the fleet.
 */

export interface FleetRun {
  /** Every trial, in the order proposed. */
  trials: PlannedTrial[];
  /** Simulated time at which the last trial finished. */
  makespan: number;
  /** Sum of the trials' durations. */
  busy: number;
  /** Share of the fleet's time spent training: busy / (makespan · parallel). */
  utilisation: number;
  maxInFlight: number;
}

export function simulateFleet(
  spec: SweepSpec,
  result: (trial: PlannedTrial) => SamplerResult,
  duration: (trial: PlannedTrial) => number,
): FleetRun {
  const rounds = proposalRounds(spec);
  const parallel = spec.budget.parallel;
  let state = initialSamplerState(spec);
  const trials: PlannedTrial[] = [];
  let running: { trial: PlannedTrial; end: number }[] = [];
  let now = 0;
  let busy = 0;
  let finished = 0;
  let maxInFlight = 0;
  let exhausted = false;
  let proposeAfterFinished = -1;
  for (;;) {
    const mayPropose =
      proposalDue(state, rounds) && (proposeAfterFinished < 0 || finished > proposeAfterFinished);
    if (!exhausted && mayPropose && running.length < parallel) {
      proposeAfterFinished = -1;
      const proposal = proposeTrials(spec, 'fleet', state, parallel - running.length);
      state = proposal.state;
      exhausted = proposal.exhausted || (proposal.trials.length === 0 && running.length === 0);
      if (proposal.trials.length === 0) proposeAfterFinished = finished;
      for (const trial of proposal.trials) {
        const took = duration(trial);
        busy += took;
        running.push({ trial, end: now + took });
        trials.push(trial);
      }
      maxInFlight = Math.max(maxInFlight, running.length);
      continue;
    }
    if (running.length === 0) break;
    const next = running.reduce((a, b) =>
      b.end < a.end || (b.end === a.end && b.trial.index < a.trial.index) ? b : a,
    );
    running = running.filter((r) => r !== next);
    now = next.end;
    state = observeTrials(state, [result(next.trial)]);
    finished++;
  }
  return { trials, makespan: now, busy, utilisation: now > 0 ? busy / (now * parallel) : 0, maxInFlight };
}
