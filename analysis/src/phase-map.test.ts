import { describe, expect, it } from 'vitest';
import { denormalise, normalise } from './axes.js';
import {
  estimatePhaseMap,
  fitPhaseMap,
  gridPoints,
  normalisedEntropy,
  type PhaseMap,
  predictPhaseMap,
} from './phase-map.js';
import { FRACTION_AXIS, spaced, syntheticTrials, truePhase, WD_AXIS } from './testing/ground-truth.js';
import { PHASES } from './types.js';

const axes = [WD_AXIS, FRACTION_AXIS];

/** Whether the true phase changes within `radius` (normalised units) of a point. */
function boundaryWithin(x: number[], radius: number): boolean {
  const here = truePhase(x[0]!, x[1]!);
  const u = x.map((v, d) => normalise(axes[d]!, v));
  for (let r = radius / 4; r <= radius + 1e-12; r += radius / 4) {
    for (let k = 0; k < 32; k++) {
      const a = (2 * Math.PI * k) / 32;
      const wd = denormalise(WD_AXIS, u[0]! + r * Math.cos(a));
      const f = denormalise(FRACTION_AXIS, u[1]! + r * Math.sin(a));
      if (truePhase(wd, f) !== here) return true;
    }
  }
  return false;
}

function coarseSweepMap(prngSeed: number): PhaseMap {
  const trials = syntheticTrials({
    weightDecays: spaced(0.01, 10, 8, true),
    fractions: spaced(0.1, 0.9, 8),
    seeds: 2,
    prngSeed,
  });
  return estimatePhaseMap(trials, axes, { resolution: 40 });
}

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

describe('estimatePhaseMap on a closed-form phase diagram', () => {
  // Three independent noise draws of an 8×8 sweep with 2 noisy seeds per point.
  const maps = [1, 2, 3].map(coarseSweepMap);

  it.each([0, 1, 2])('agrees with the truth on ≥ 90%% of a dense 40×40 grid (draw %i)', (i) => {
    const map = maps[i]!;
    expect(map.cells).toHaveLength(1600);
    const agree = map.cells.filter((c) => c.phase === truePhase(c.x[0]!, c.x[1]!)).length / map.cells.length;
    expect(agree).toBeGreaterThanOrEqual(0.9);
  });

  it.each([0, 1, 2])('is more uncertain near true boundaries than far from them (draw %i)', (i) => {
    const map = maps[i]!;
    const near = map.cells.filter((c) => boundaryWithin(c.x, 0.03)).map((c) => c.uncertainty);
    const far = map.cells.filter((c) => !boundaryWithin(c.x, 0.15)).map((c) => c.uncertainty);
    expect(near.length).toBeGreaterThan(100);
    expect(far.length).toBeGreaterThan(100);
    expect(mean(near)).toBeGreaterThan(2 * mean(far));
  });

  it('finds all four phases and returns probabilities that sum to one', () => {
    const map = maps[0]!;
    expect(new Set(map.cells.map((c) => c.phase))).toEqual(new Set(PHASES));
    for (const c of map.cells) {
      expect(PHASES.reduce((s, p) => s + c.probs[p], 0)).toBeCloseTo(1, 9);
      expect(c.uncertainty).toBeGreaterThanOrEqual(0);
      expect(c.uncertainty).toBeLessThanOrEqual(1);
    }
  });

  it('is JSON-serialisable and deterministic', () => {
    const again = coarseSweepMap(1);
    expect(JSON.parse(JSON.stringify(maps[0]))).toEqual(again);
  });
});

describe('fitPhaseMap', () => {
  const points = syntheticTrials({
    weightDecays: spaced(0.01, 10, 6, true),
    fractions: spaced(0.1, 0.9, 6),
    seeds: 2,
  }).map((t) => ({
    x: [t.params.weight_decay as number, t.params.data_fraction as number],
    phase: t.classification!.phase,
  }));

  it('does not depend on the order of the points', () => {
    const grid = gridPoints(axes, 7);
    const a = predictPhaseMap(fitPhaseMap(points, axes), grid);
    const b = predictPhaseMap(fitPhaseMap([...points].reverse(), axes), grid);
    a.forEach((cell, i) => {
      expect(cell.phase).toBe(b[i]!.phase);
      expect(cell.uncertainty).toBeCloseTo(b[i]!.uncertainty, 9);
    });
  });

  it('merges seeds at the same point and bins beyond maxPoints', () => {
    expect(fitPhaseMap(points, axes).observationCount).toBe(36);
    const binned = fitPhaseMap(points, axes, { maxPoints: 10 });
    expect(binned.observationCount).toBeLessThanOrEqual(10);
    expect(binned.pointCount).toBe(points.length);
  });

  it('falls back to the base rates far from every point', () => {
    // Three confusion and one memorization point, all in the low corner.
    const corner = [
      { x: [0.01, 0.1], phase: 'confusion' as const },
      { x: [0.012, 0.1], phase: 'confusion' as const },
      { x: [0.01, 0.12], phase: 'confusion' as const },
      { x: [0.012, 0.12], phase: 'memorization' as const },
    ];
    const model = fitPhaseMap(corner, axes);
    expect(model.prior).toEqual([0, 0, 0.25, 0.75]);
    const [near, far] = predictPhaseMap(model, [
      [0.01, 0.1],
      [10, 0.9],
    ]);
    expect(far!.probs.confusion).toBeCloseTo(0.75, 2);
    expect(far!.probs.memorization).toBeCloseTo(0.25, 2);
    expect(near!.probs.confusion).toBeGreaterThan(far!.probs.confusion);
    const empty = predictPhaseMap(fitPhaseMap([], axes), [[1, 0.5]]);
    expect(empty[0]!.uncertainty).toBeCloseTo(1, 9);
  });

  it('gives the observed phase at an observed place, even inside another phase', () => {
    // A 7 × 7 grid of grokking with one memorization cell in the middle: smoothing alone
    // would label that cell grokking, but a trial there saw memorization.
    const values = [0.01, 0.03, 0.1, 0.3, 1, 3, 10].flatMap((wd) =>
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((f) => [wd, f]),
    );
    const isolated = (x: number[]) => x[0] === 0.3 && x[1] === 0.4;
    const points = values.map((x) => ({
      x,
      phase: isolated(x) ? ('memorization' as const) : ('grokking' as const),
    }));
    const model = fitPhaseMap(points, axes);
    const [at, beside] = predictPhaseMap(model, [
      [0.3, 0.4],
      [0.3, 0.45],
    ]);
    expect(at!.phase).toBe('memorization');
    expect(at!.probs.memorization).toBeGreaterThan(0.99);
    expect(beside!.phase).toBe('grokking');
    // Mixed seeds at one place: their shares.
    const mixed = fitPhaseMap(
      [...points, { x: [0.3, 0.4], phase: 'grokking' }, { x: [0.3, 0.4], phase: 'grokking' }],
      axes,
    );
    const [shares] = predictPhaseMap(mixed, [[0.3, 0.4]]);
    expect(shares!.probs.grokking).toBeCloseTo(2 / 3, 2);
    expect(shares!.probs.memorization).toBeCloseTo(1 / 3, 2);
  });

  it('stays finite with thousands of seeds piled on a few points', () => {
    const piles = [
      [0.01, 0.1],
      [0.01, 0.9],
      [10, 0.1],
      [10, 0.9],
    ].flatMap((x, i) => Array.from({ length: 500 }, () => ({ x, phase: PHASES[i]! })));
    const cells = predictPhaseMap(fitPhaseMap(piles, axes), gridPoints(axes, 5));
    for (const c of cells) expect(Number.isFinite(c.uncertainty)).toBe(true);
    expect(cells[0]!.phase).toBe(PHASES[0]);
    expect(cells.at(-1)!.phase).toBe(PHASES[3]);
  });

  it('refuses points with the wrong dimension or off a log axis', () => {
    expect(() => fitPhaseMap([{ x: [1], phase: 'grokking' }], axes)).toThrow(/coordinates/);
    expect(() => fitPhaseMap([{ x: [-1, 0.5], phase: 'grokking' }], axes)).toThrow(/scale/);
  });
});

describe('axes and grids', () => {
  it('puts grid points at cell centres, first axis slowest', () => {
    const g = gridPoints(axes, [2, 4]);
    expect(g).toHaveLength(8);
    expect(g[0]![0]).toBeCloseTo(denormalise(WD_AXIS, 0.25), 12);
    expect(g[1]![1]).toBeCloseTo(denormalise(FRACTION_AXIS, 0.375), 12);
  });
  it('entropy is 0 for a sure phase and 1 for uniform', () => {
    expect(normalisedEntropy([1, 0, 0, 0])).toBe(0);
    expect(normalisedEntropy([0.25, 0.25, 0.25, 0.25])).toBeCloseTo(1, 12);
  });
});
