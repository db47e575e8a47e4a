import type { PlannedTrial, SweepSpec } from '@grokmap/workflows';
import { proposalDue, proposalRounds } from '../samplers/rounds.js';
import { leaveInStore, pointFromParams, restoreFromStore, type StoredTrial } from '../samplers/stored.js';
import { initialSamplerState, observeTrials, proposeTrials } from '../samplers/suggest.js';
import type { SamplerResult } from '../samplers/types.js';

/**
 * A bayes or adaptive sweep on a simulated fleet of `budget.parallel`
 * workers, in simulated time: proposals when the sweep workflow makes them
 * (a round is due and a slot is free; after an empty proposal, only once
 * another trial has finished), trials finishing in order of their end
 * times. For tests and the sampling bench: what trials a sweep runs when
 * trials take different times, and how busy it keeps the fleet. With
 * `store`, each proposal reads the finished trials back from a simulated
 * results store and leaves them there, as the suggestion activity does.
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
  /** The most trial records the sampler state held between proposals (observations and pending). */
  maxCarried: number;
}

export function simulateFleet(
  spec: SweepSpec,
  result: (trial: PlannedTrial) => SamplerResult,
  duration: (trial: PlannedTrial) => number,
  options: { store?: boolean } = {},
): FleetRun {
  const store = new Map<number, StoredTrial>();
  const rounds = proposalRounds(spec);
  const parallel = spec.budget.parallel;
  let state = initialSamplerState(spec);
  const trials: PlannedTrial[] = [];
  let running: { trial: PlannedTrial; end: number }[] = [];
  let now = 0;
  let busy = 0;
  let finished = 0;
  let maxInFlight = 0;
  let maxCarried = 0;
  let exhausted = false;
  let proposeAfterFinished = -1;
  for (;;) {
    const mayPropose =
      proposalDue(state, rounds) && (proposeAfterFinished < 0 || finished > proposeAfterFinished);
    if (!exhausted && mayPropose && running.length < parallel) {
      proposeAfterFinished = -1;
      const whole = options.store ? restoreFromStore(state, [...store.values()]) : state;
      const proposal = proposeTrials(spec, 'fleet', whole, parallel - running.length);
      state = options.store ? leaveInStore(proposal.state) : proposal.state;
      maxCarried = Math.max(maxCarried, state.observations.length + state.pending.length);
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
    const outcome = result(next.trial);
    store.set(outcome.index, { ...outcome, point: pointFromParams(spec, next.trial.params) });
    state = observeTrials(state, [outcome]);
    finished++;
  }
  return {
    trials,
    makespan: now,
    busy,
    utilisation: now > 0 ? busy / (now * parallel) : 0,
    maxInFlight,
    maxCarried,
  };
}
