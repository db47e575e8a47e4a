import { describe, expect, it } from 'vitest';
import { aggregateCells } from '../cells.js';
import type { AnalysedTrial, Phase } from '../types.js';
import { pickBoundaryCells } from './boundary-cells.js';

function trial(wd: number, f: number, phase: Phase): AnalysedTrial {
  return {
    trialId: `${wd}-${f}`,
    params: { weight_decay: wd, data_fraction: f },
    status: 'completed',
    classification: { phase, tTrain: 1, tVal: null, ratio: null, valAtTrain: null, semiGrokking: false },
  };
}

const axes = {
  x: { name: 'weight_decay', log: true, min: 0.01, max: 10, values: [] },
  y: { name: 'data_fraction', log: false, min: 0.2, max: 0.8, values: [] },
  facet: null,
  seed: null,
};

describe('pickBoundaryCells', () => {
  // Memorization below f = 0.5, comprehension from 0.5 up: the boundary runs between rows 0.4 and 0.5.
  const trials = [0.01, 0.1, 1, 10].flatMap((wd) =>
    [0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((f) => trial(wd, f, f < 0.45 ? 'memorization' : 'comprehension')),
  );
  const cells = aggregateCells(trials, ['weight_decay', 'data_fraction']);

  it('returns pairs of neighbouring cells on the two sides of a boundary', () => {
    const chosen = pickBoundaryCells([cells], axes, 6);
    expect(chosen).toHaveLength(6);
    for (let i = 0; i < chosen.length; i += 2) {
      const [a, b] = [chosen[i]!.cell, chosen[i + 1]!.cell];
      expect(a.phase).not.toBe(b.phase);
      expect(a.params.weight_decay).toBe(b.params.weight_decay);
      expect(new Set([a.params.data_fraction, b.params.data_fraction])).toEqual(new Set([0.4, 0.5]));
    }
    expect(new Set(chosen.map((c) => c.cell.key)).size).toBe(6);
  });

  it('without a boundary, shows one cell per phase first', () => {
    const one = aggregateCells(
      trials.filter((t) => t.classification!.phase === 'comprehension'),
      ['weight_decay', 'data_fraction'],
    );
    const chosen = pickBoundaryCells([one], axes, 3);
    expect(chosen).toHaveLength(3);
    expect(chosen.every((c) => c.cell.phase === 'comprehension')).toBe(true);
  });
});
