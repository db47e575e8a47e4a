import { describe, expect, it } from 'vitest';
import { aggregateCells, majorityPhase, median } from './cells.js';
import { classifyTimes, delayRatio } from './classify.js';
import type { AnalysedTrial } from './types.js';

const rule = { threshold: 0.99, delaySteps: 1000 };
let nextId = 0;

/** A trial at (wd, frac, seed) whose thresholds were reached at tTrain / tVal. */
function trial(
  wd: number,
  frac: number,
  seed: number,
  tTrain: number | null,
  tVal: number | null,
  extra: Partial<AnalysedTrial> = {},
): AnalysedTrial {
  return {
    trialId: `t${nextId++}`,
    params: { weight_decay: wd, data_fraction: frac, seed },
    status: 'completed',
    classification: {
      phase: classifyTimes(tTrain, tVal, rule),
      tTrain,
      tVal,
      ratio: delayRatio(tTrain, tVal),
      valAtTrain: null,
      semiGrokking: false,
    },
    ...extra,
  };
}

const keys = ['weight_decay', 'data_fraction'];

describe('aggregateCells', () => {
  it('groups seeds into cells sorted by their parameters', () => {
    const cells = aggregateCells(
      [trial(1, 0.5, 0, 100, 150), trial(0.1, 0.5, 0, 100, 5000), trial(1, 0.5, 1, 100, 200)],
      keys,
    );
    expect(cells.map((c) => c.params)).toEqual([
      { weight_decay: 0.1, data_fraction: 0.5 },
      { weight_decay: 1, data_fraction: 0.5 },
    ]);
    expect(cells[1]).toMatchObject({ phase: 'comprehension', trials: 2, classified: 2, agreement: 1 });
    expect(cells[1]!.medianRatio).toBeCloseTo((1.5 + 2) / 2);
    expect(cells[0]!.phase).toBe('grokking');
  });

  it('takes the strict majority of disagreeing seeds', () => {
    const [cell] = aggregateCells(
      [trial(1, 0.3, 0, 100, 5000), trial(1, 0.3, 1, 100, 6000), trial(1, 0.3, 2, 100, null)],
      keys,
    );
    expect(cell!.phase).toBe('grokking');
    expect(cell!.counts).toEqual({ comprehension: 0, grokking: 2, memorization: 1, confusion: 0 });
    expect(cell!.agreement).toBeCloseTo(2 / 3);
    expect(cell!.medianRatio).toBeCloseTo(55);
  });

  it('marks a tie or a plurality without majority as mixed', () => {
    const tie = aggregateCells([trial(1, 0.3, 0, 100, 5000), trial(1, 0.3, 1, 100, null)], keys);
    expect(tie[0]!.phase).toBe('mixed');
    const spread = aggregateCells(
      [
        trial(1, 0.3, 0, 100, 5000),
        trial(1, 0.3, 1, 100, 5000),
        trial(1, 0.3, 2, 100, null),
        trial(1, 0.3, 3, null, null),
      ],
      keys,
    );
    expect(spread[0]!.phase).toBe('mixed');
    expect(spread[0]!.agreement).toBeCloseTo(0.5);
  });

  it('votes only classified seeds and counts failed and running trials apart', () => {
    const cells = aggregateCells(
      [
        trial(1, 0.3, 0, 100, null),
        trial(1, 0.3, 1, null, null, { status: 'diverged', classification: null }),
        trial(1, 0.3, 2, null, null, { status: 'running', classification: null }),
        trial(2, 0.3, 0, null, null, { status: 'error', classification: null }),
      ],
      keys,
    );
    expect(cells[0]).toMatchObject({
      phase: 'memorization',
      trials: 3,
      classified: 1,
      failed: 1,
      incomplete: 1,
    });
    expect(cells[1]).toMatchObject({
      phase: null,
      classified: 0,
      failed: 1,
      agreement: null,
      medianRatio: null,
    });
  });

  it('reports semi-grokking when any seed semi-grokked', () => {
    const semi = trial(1, 0.3, 0, 100, null);
    semi.classification!.semiGrokking = true;
    const [cell] = aggregateCells([semi, trial(1, 0.3, 1, 100, null)], keys);
    expect(cell!.semiGrokking).toBe(true);
  });
});

describe('majorityPhase and median', () => {
  it('need more than half of the votes', () => {
    expect(majorityPhase({ comprehension: 2, grokking: 1, memorization: 0, confusion: 0 })).toBe(
      'comprehension',
    );
    expect(majorityPhase({ comprehension: 2, grokking: 2, memorization: 0, confusion: 0 })).toBe('mixed');
    expect(majorityPhase({ comprehension: 0, grokking: 0, memorization: 0, confusion: 0 })).toBeNull();
  });
  it('median of odd and even lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});
