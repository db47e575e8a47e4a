import { DEFAULT_THRESHOLDS } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { compareSweeps, regressionAxes } from './regression.js';
import { spaced, syntheticTrials } from './testing/ground-truth.js';
import type { AnalysedTrial } from './types.js';

const grid = { weightDecays: [0.01, 0.1, 1, 10], fractions: spaced(0.15, 0.85, 8), seeds: 3, jitter: 0.01 };
const options = {
  cellKeys: ['weight_decay', 'data_fraction'],
  along: 'data_fraction',
  by: 'weight_decay',
  thresholds: DEFAULT_THRESHOLDS,
  bootstrap: 200,
};

function shifted(shift: number, prngSeed = 1): AnalysedTrial[] {
  return syntheticTrials({ ...grid, groups: [{ params: {}, shift }], prngSeed });
}

function withRatio(trials: AnalysedTrial[], ratio: number): AnalysedTrial[] {
  return trials.map((t) => ({ ...t, classification: t.classification && { ...t.classification, ratio } }));
}

describe('compareSweeps', () => {
  it('passes a rerun of the same sweep: no changed cells, no boundary shift', () => {
    const a = shifted(0);
    const result = compareSweeps(a, shifted(0), options);
    expect(result.verdict).toBe('pass');
    expect(result.changedCells).toEqual([]);
    expect(result.comparedCells).toBe(32);
    expect(result.boundary?.shifts).toHaveLength(4);
    expect(result.boundary?.shifts.every((s) => s.shift === 0 && !s.exceeds)).toBe(true);
  });

  it('flags a boundary moved by 0.3 as regressed, naming the cells and the shifts', () => {
    const result = compareSweeps(shifted(0), shifted(0.3), options);
    expect(result.verdict).toBe('regressed');
    expect(result.changedShare).toBeGreaterThan(0.1);
    const moved = result.boundary!.shifts.filter((s) => s.exceeds);
    expect(moved.length).toBeGreaterThan(0);
    for (const s of moved) {
      expect(s.shift).toBeGreaterThan(0.1);
      expect(s.current.estimate).toBeGreaterThan(s.baseline.hi);
    }
    expect(result.changedCells.every((c) => c.baseline !== c.current)).toBe(true);
    expect(result.reasons.join('\n')).toMatch(/changed phase/);
    expect(result.reasons.join('\n')).toMatch(/boundary of data_fraction/);
  });

  it('tolerates a small shift within the thresholds', () => {
    const result = compareSweeps(shifted(0), shifted(0.02), options);
    expect(result.verdict).toBe('pass');
    expect(result.boundary!.shifts.some((s) => s.exceeds)).toBe(false);
  });

  it('says baseline when there is none, and inconclusive when the baseline disagrees with itself', () => {
    expect(compareSweeps(null, shifted(0), options).verdict).toBe('baseline');
    // Seeds that disagree almost everywhere: a baseline too noisy to judge against.
    const noisy = syntheticTrials({ ...grid, seeds: 2, jitter: 0.6, prngSeed: 3 });
    const result = compareSweeps(noisy, shifted(0.3), {
      ...options,
      thresholds: { ...DEFAULT_THRESHOLDS, minConfidence: 0.9 },
    });
    expect(result.baselineConfidence).toBeLessThan(0.9);
    expect(result.verdict).toBe('inconclusive');
    expect(result.reasons[0]).toMatch(/baseline too uncertain/);
  });

  it('is inconclusive when no cell is shared with the baseline', () => {
    const other = syntheticTrials({ ...grid, fractions: [0.12, 0.13] });
    expect(compareSweeps(other, shifted(0), options).verdict).toBe('inconclusive');
  });

  it('judges the delay ratio only when a limit is set', () => {
    const a = withRatio(shifted(0), 10);
    const b = withRatio(shifted(0), 40);
    const unlimited = compareSweeps(a, b, options);
    expect(unlimited.delayRatio).toMatchObject({
      baselineMedian: 10,
      currentMedian: 40,
      factor: 4,
      exceeds: false,
    });
    expect(unlimited.verdict).toBe('pass');
    const limited = compareSweeps(a, b, {
      ...options,
      thresholds: { ...DEFAULT_THRESHOLDS, maxDelayRatioChange: 2 },
    });
    expect(limited.verdict).toBe('regressed');
    expect(limited.reasons.join('\n')).toMatch(/delay ratio/);
  });

  it('does not judge boundary points whose baseline interval is too wide', () => {
    const result = compareSweeps(shifted(0), shifted(0.3), {
      ...options,
      cellKeys: options.cellKeys,
      thresholds: { ...DEFAULT_THRESHOLDS, maxBaselineWidth: 0.01, maxChangedCells: 1 },
    });
    expect(result.boundary!.shifts.every((s) => s.uncertain && !s.exceeds)).toBe(true);
    expect(result.verdict).toBe('pass');
  });
});

describe('regressionAxes', () => {
  it('uses data fraction along weight decay, seeds excluded', () => {
    expect(regressionAxes(['weight_decay', 'data_fraction', 'model_size', 'seed'])).toEqual({
      cellKeys: ['weight_decay', 'data_fraction', 'model_size'],
      along: 'data_fraction',
      by: 'weight_decay',
    });
    expect(regressionAxes(['lr', 'seed'])).toEqual({ cellKeys: ['lr'] });
  });
});
