import { describe, expect, it } from 'vitest';
import { criticalValue, estimateBoundary, quantile } from './boundary.js';
import { criticalFraction, spaced, syntheticTrials } from './testing/ground-truth.js';

const weightDecays = [0.01, 0.1, 1, 10];
// Model size 64 needs 0.1 more data than 256 in this ground truth.
const groups = [
  { params: { model_size: 64 }, shift: 0.1 },
  { params: { model_size: 256 }, shift: 0 },
];
// Sampled fractions fall midway between the true critical fractions (0.25 … 0.65).
const trials = syntheticTrials({
  weightDecays,
  fractions: spaced(0.125, 0.875, 16),
  seeds: 5,
  groups,
  prngSeed: 7,
});

describe('estimateBoundary on a closed-form phase diagram', () => {
  const estimate = estimateBoundary(trials, { bootstrap: 500 });

  it('finds one curve per model size, one point per weight decay', () => {
    expect(estimate.curves.map((c) => c.group)).toEqual([{ model_size: 64 }, { model_size: 256 }]);
    for (const curve of estimate.curves) expect(curve.points.map((p) => p.at)).toEqual(weightDecays);
  });

  it('covers the true critical fraction with its 90% interval, and not a fraction 0.1 off', () => {
    estimate.curves.forEach((curve, g) => {
      for (const p of curve.points) {
        const truth = criticalFraction(p.at, groups[g]!.shift);
        expect(p.censored).toBeNull();
        expect(p.lo).toBeLessThanOrEqual(truth);
        expect(p.hi).toBeGreaterThanOrEqual(truth);
        expect(p.lo).toBeLessThanOrEqual(p.median);
        expect(p.median).toBeLessThanOrEqual(p.hi);
        expect(Math.abs(p.estimate - truth)).toBeLessThan(0.05);
        expect(p.hi).toBeLessThan(truth + 0.1);
        expect(p.lo).toBeGreaterThan(truth - 0.1);
      }
    });
  });

  it('moves the boundary the right way: less data needed with more weight decay and a bigger model', () => {
    const [small, big] = estimate.curves;
    const medians = big!.points.map((p) => p.median);
    expect([...medians].sort((a, b) => b - a)).toEqual(medians);
    small!.points.forEach((p, i) => {
      expect(p.median).toBeGreaterThan(big!.points[i]!.median);
    });
  });

  it('is deterministic for a bootstrap seed and JSON-serialisable', () => {
    const again = estimateBoundary(trials, { bootstrap: 500 });
    expect(JSON.parse(JSON.stringify(estimate))).toEqual(again);
  });

  it('estimates the onset of grokking alone when asked', () => {
    const grokking = estimateBoundary(trials, { phases: ['grokking'], bootstrap: 200 });
    const p = grokking.curves[1]!.points[0]!;
    expect(Math.abs(p.estimate - criticalFraction(p.at))).toBeLessThan(0.05);
  });
});

describe('criticalValue', () => {
  it('interpolates linearly where the rate first reaches the level', () => {
    const c = criticalValue(
      [
        { value: 0.2, rate: 0 },
        { value: 0.4, rate: 0.25 },
        { value: 0.6, rate: 0.75 },
        { value: 0.8, rate: 1 },
      ],
      0.5,
    );
    expect(c.value).toBeCloseTo(0.5, 12);
    expect(c.bracket).toEqual([0.4, 0.6]);
    expect(c.censored).toBeNull();
  });
  it('censors crossings outside the sampled range', () => {
    expect(
      criticalValue(
        [
          { value: 0.3, rate: 0.6 },
          { value: 0.5, rate: 1 },
        ],
        0.5,
      ),
    ).toMatchObject({
      value: 0.3,
      censored: 'below',
    });
    expect(
      criticalValue(
        [
          { value: 0.3, rate: 0 },
          { value: 0.5, rate: 0.2 },
        ],
        0.5,
      ),
    ).toMatchObject({
      value: 0.5,
      censored: 'above',
    });
  });
  it('quantiles interpolate between order statistics', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([0, 10], 0.05)).toBeCloseTo(0.5, 12);
  });
});
