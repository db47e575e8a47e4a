import { type PlannedTrial, type SweepSpecInput, streamFor, sweepSpecSchema } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { simulateFleet } from '../testing/fleet.js';
import { truePhase } from '../testing/ground-truth.js';
import { proposalDue, proposalRounds, roundBlockers, visibleCutoff, visibleState } from './rounds.js';
import type { SamplerResult, SamplerState } from './types.js';

function specFor(method: 'bayes' | 'adaptive', extra: Partial<SweepSpecInput> = {}) {
  return sweepSpecSchema.parse({
    name: `rounds-${method}`,
    trainer: 'synthetic',
    method,
    seed: 3,
    metric: { name: 'steps_to_generalize', goal: 'minimize' },
    budget: { trials: 40, parallel: 8 },
    parameters: {
      weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
      data_fraction: { min: 0.1, max: 0.9 },
    },
    ...extra,
  });
}

/** The closed-form diagram of testing/ground-truth, with a step count that is best at moderate weight decay. */
function result(trial: PlannedTrial): SamplerResult {
  const wd = Number(trial.params.weight_decay);
  const f = Number(trial.params.data_fraction);
  const phase = truePhase(wd, f);
  const generalizes = phase === 'grokking' || phase === 'comprehension';
  const metric = generalizes ? 500 + 3000 * Math.abs(Math.log10(wd) + 0.5) + 2000 * (1 - f) : 20000;
  return { index: trial.index, status: 'completed', phase, metric };
}

/** Trial durations that differ from trial to trial, and between `seed`s: a different finishing order each. */
const durations = (seed: number) => (trial: PlannedTrial) =>
  1 + 9 * streamFor(seed, trial.index, 'duration')();

const pending = (...indices: number[]) => indices.map((index) => ({ index, point: {} }));

describe('proposal rounds', () => {
  it('default to whole batches with no lag; smaller rounds to a lag of two fleets less a round', () => {
    expect(proposalRounds(specFor('bayes'))).toEqual({ size: 8, lag: 0, parallel: 8 });
    expect(proposalRounds(specFor('bayes', { bayes: { batch: 3 } }))).toMatchObject({ size: 3, lag: 13 });
    expect(proposalRounds(specFor('adaptive', { adaptive: { batch: 2 } }))).toEqual({
      size: 2,
      lag: 14,
      parallel: 8,
    });
    const lagged = specFor('adaptive', {
      adaptive: { batch: 2 },
      budget: { trials: 40, parallel: 8, lag: 20 },
    });
    expect(proposalRounds(lagged)).toMatchObject({ size: 2, lag: 20 });
    // A batch above budget.parallel (adaptive allows it: rounds of the map) proposes parallel at a time.
    expect(proposalRounds(specFor('adaptive', { adaptive: { batch: 12 } }))).toMatchObject({
      size: 8,
      lag: 0,
    });
  });

  it('a round sees the trials `lag` behind it', () => {
    const rounds = { size: 2, lag: 6, parallel: 8 };
    expect(visibleCutoff({ nextIndex: 0 }, rounds)).toBe(0);
    expect(visibleCutoff({ nextIndex: 6 }, rounds)).toBe(0);
    expect(visibleCutoff({ nextIndex: 8 }, rounds)).toBe(2);
    expect(visibleCutoff({ nextIndex: 20 }, rounds)).toBe(14);
    expect(visibleCutoff({ nextIndex: 7 }, { ...rounds, lag: 0 })).toBe(7);
    expect(proposalDue({ nextIndex: 20, pending: pending(14, 15, 19) }, rounds)).toBe(true);
    expect(proposalDue({ nextIndex: 20, pending: pending(13, 19) }, rounds)).toBe(false);
    expect(proposalDue({ nextIndex: 20, pending: [] }, { ...rounds, lag: 0 })).toBe(true);
    expect(proposalDue({ nextIndex: 20, pending: pending(19) }, { ...rounds, lag: 0 })).toBe(false);
    // A lag past the fleet: results may be old, but a round waits for a whole round of free slots.
    const long = { ...rounds, lag: 30 };
    expect(proposalDue({ nextIndex: 40, pending: pending(10, 31, 32, 33, 34, 35) }, long)).toBe(true);
    expect(proposalDue({ nextIndex: 40, pending: pending(10, 31, 32, 33, 34, 35, 36) }, long)).toBe(false);
    expect(proposalDue({ nextIndex: 40, pending: pending(9, 31) }, long)).toBe(false);
  });

  it('names what the next round waits for: running trials below its cutoff, or room in the fleet', () => {
    const rounds = { size: 2, lag: 6, parallel: 8 };
    expect(roundBlockers({ nextIndex: 20, pending: pending(19, 9, 14, 13) }, rounds)).toEqual({
      indices: [9, 13],
      fleetFull: false,
    });
    expect(roundBlockers({ nextIndex: 20, pending: pending(14, 15, 16, 17, 18, 19, 20) }, rounds)).toEqual({
      indices: [],
      fleetFull: true,
    });
  });

  it('hides the results a round must not see, as pending points in index order', () => {
    const state: SamplerState = {
      kind: 'bayes',
      nextIndex: 5,
      round: 0,
      observations: [0, 1, 3].map((index) => ({
        index,
        point: { x: index },
        phase: null,
        metric: index,
        censored: false,
      })),
      pending: pending(2, 4),
    };
    const visible = visibleState(state, 2);
    expect(visible.observations.map((o) => o.index)).toEqual([0, 1]);
    expect(visible.pending).toEqual([
      { index: 2, point: {} },
      { index: 3, point: { x: 3 } },
      { index: 4, point: {} },
    ]);
    expect(visibleState(state, 5)).toBe(state);
  });

  describe.each(['bayes', 'adaptive'] as const)(
    '%s on a fleet whose trials take different times',
    (method) => {
      // Rounds of 2, by default 14 trials (two fleets less a round) ahead of the results they see.
      const spec = specFor(method, {
        ...(method === 'bayes'
          ? { bayes: { batch: 2 } }
          : { adaptive: { batch: 2, stop_when: { max_change: 0, patience: 100 } } }),
      });

      it('runs the same trials whatever order they finish in, with the whole fleet in flight', () => {
        const runs = [1, 2, 3].map((seed) => simulateFleet(spec, result, durations(seed)));
        expect(runs[0]!.trials).toHaveLength(40);
        for (const run of runs.slice(1)) expect(run.trials).toEqual(runs[0]!.trials);
        for (const run of runs) expect(run.maxInFlight).toBe(8);
      });

      it('runs the same trials when each proposal reads the finished ones back from the store, carrying at most a round and its lag', () => {
        for (const sweep of [spec, specFor(method)]) {
          const carried = simulateFleet(sweep, result, durations(2));
          const stored = simulateFleet(sweep, result, durations(2), { store: true });
          expect(stored.trials).toEqual(carried.trials);
          expect(carried.maxCarried).toBe(40);
          const { size, lag } = proposalRounds(sweep);
          expect(stored.maxCarried).toBeLessThanOrEqual(lag + size);
        }
      });

      it('keeps the fleet busier than whole batches do, on the same trial times', () => {
        const whole = simulateFleet(specFor(method), result, durations(1));
        const pipelined = simulateFleet(spec, result, durations(1));
        expect(pipelined.utilisation).toBeGreaterThan(whole.utilisation);
      });
    },
  );
});
