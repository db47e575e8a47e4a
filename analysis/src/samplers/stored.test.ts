import { sweepSpecSchema } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { leaveInStore, observationsDigest, restoreFromStore, type StoredTrial } from './stored.js';
import { initialSamplerState, observeTrials, proposeTrials } from './suggest.js';
import type { SamplerState } from './types.js';

const spec = sweepSpecSchema.parse({
  name: 'stored',
  trainer: 'synthetic',
  method: 'bayes',
  seed: 5,
  metric: { name: 'steps_to_generalize', goal: 'minimize' },
  budget: { trials: 40, parallel: 8 },
  parameters: {
    weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
    data_fraction: { min: 0.1, max: 0.9 },
  },
});

/** Trials 0–7 proposed; all but 5 and 7 finished (6 failed); what the store holds of the finished ones. */
function sweepSoFar(): { state: SamplerState; store: StoredTrial[] } {
  const state = proposeTrials(spec, 's', initialSamplerState(spec), 8).state;
  const store: StoredTrial[] = state.pending
    .filter((p) => p.index !== 5 && p.index !== 7)
    .map(({ index, point }) => ({
      index,
      point: { data_fraction: point.data_fraction!, weight_decay: point.weight_decay! },
      status: index === 6 ? 'error' : 'completed',
      phase: index === 6 ? null : index % 2 ? 'memorization' : 'grokking',
      metric: index === 6 ? null : index % 2 ? 20000 : 1000 + index,
    }));
  return { state: observeTrials(state, store), store };
}

describe('finished trials left in the results store', () => {
  it('leave the state up to the oldest pending trial, and come back as they were observed', () => {
    const { state, store } = sweepSoFar();
    const left = leaveInStore(state);
    expect(left.observations.map((o) => o.index)).toEqual([6]);
    expect(left.pending.map((p) => p.index)).toEqual([5, 7]);
    expect(left.stored).toEqual({ below: 5, digest: observationsDigest(state.observations.slice(0, 5)) });
    // The store's records, in any order and with the trial that failed, rebuild the same state.
    expect(restoreFromStore(left, [...store].reverse())).toEqual(state);
    // Nothing finished before the first pending trial: nothing leaves.
    expect(leaveInStore({ ...state, pending: [{ index: 0, point: {} }, ...state.pending] })).toMatchObject({
      observations: state.observations,
    });
  });

  it('are refused by a proposal until they are back', () => {
    const left = leaveInStore(sweepSoFar().state);
    expect(() => proposeTrials(spec, 's', left, 4)).toThrow(
      /leaves its first 5 trials in the results store: restore them/,
    );
  });

  it('must all be in the store, each as the sweep observed it', () => {
    const { state, store } = sweepSoFar();
    const left = leaveInStore(state);
    expect(() =>
      restoreFromStore(
        left,
        store.filter((t) => t.index !== 1 && t.index !== 3),
      ),
    ).toThrow(/holds 3 of the 5 finished trials .*; 2 are missing, the first at indices 1, 3/);
    const changed = store.map((t) => (t.index === 2 ? { ...t, metric: 999 } : t));
    expect(() => restoreFromStore(left, changed)).toThrow(
      /records of trials 0–4 differ from the results this sweep's sampler observed/,
    );
    const failed = store.map((t) => (t.index === 4 ? { ...t, status: 'timed_out' as const } : t));
    expect(() => restoreFromStore(left, failed)).toThrow(/differ/);
  });
});
