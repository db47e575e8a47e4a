import { describe, expect, it } from 'vitest';
import { offlinePlacement } from './offline-placement.js';
import { fitPhaseMap, predictPhaseMap } from './phase-map.js';
import type { Axis, Phase } from './types.js';

const N = 7;
const values = Array.from({ length: N }, (_, i) => (i + 0.5) / N);
const axes: Axis[] = [
  { name: 'lr', log: false, min: 0, max: 1, values },
  { name: 'wd', log: false, min: 0, max: 1, values },
];
const cells = values.flatMap((x) => values.map((y) => [x, y]));
/** Three phases split by two lines, and a one-cell island: boundaries a placement has to pin down. */
function phaseAt([x, y]: number[]): Phase {
  if (Math.abs(x! - 0.79) < 0.01 && Math.abs(y! - 0.21) < 0.01) return 'confusion';
  if (x! + y! < 0.8) return 'comprehension';
  return y! > 0.55 ? 'grokking' : 'memorization';
}
const truth = cells.map(phaseAt);

/** Share of all cells the map fitted on `kept` labels right; tuneAxes off, like the placement's emulation. */
function agreementOf(kept: readonly number[]): number {
  const points = kept.map((i) => ({ x: cells[i]!, phase: truth[i]! }));
  const map = predictPhaseMap(fitPhaseMap(points, axes, { tuneAxes: false }), cells);
  return map.filter((c, i) => c.phase === truth[i]).length / cells.length;
}

describe('offline placement', () => {
  const target = 0.95;
  const kept = offlinePlacement(cells, truth, axes, target);

  it('keeps a small set that the map itself labels the grid from at the target', () => {
    expect(kept.length).toBeLessThan(cells.length / 2);
    expect(new Set(kept).size).toBe(kept.length);
    expect(agreementOf(kept)).toBeGreaterThanOrEqual(target);
  });

  it.each([0.8, 0.9, 0.95, 0.98])(
    "at target %s, stops where the refitted map falls below it without any one kept cell (it tracks fitPhaseMap's choice)",
    (t) => {
      const set = offlinePlacement(cells, truth, axes, t);
      expect(agreementOf(set)).toBeGreaterThanOrEqual(t);
      for (const i of set)
        expect(agreementOf(set.filter((j) => j !== i)), `without cell ${i}`).toBeLessThan(t);
    },
  );

  it('keeps the cells it is told to keep, and every other kept cell is still needed', () => {
    // Cells a placement would not choose: a row along one edge, inside one phase.
    const locked = cells.flatMap((x, i) => (x[0] === values[0] ? [i] : []));
    const set = offlinePlacement(cells, truth, axes, target, locked);
    expect(set).toEqual(expect.arrayContaining(locked));
    expect(agreementOf(set)).toBeGreaterThanOrEqual(target);
    for (const i of set.filter((j) => !locked.includes(j)))
      expect(agreementOf(set.filter((j) => j !== i)), `without cell ${i}`).toBeLessThan(target);
    expect(set).not.toEqual(kept);
  });

  it('is deterministic, and keeps every cell when each is the only one of its phase', () => {
    expect(offlinePlacement(cells, truth, axes, target)).toEqual(kept);
    const corners = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    const phases: Phase[] = ['comprehension', 'grokking', 'memorization', 'confusion'];
    expect(offlinePlacement(corners, phases, axes, 1)).toEqual([0, 1, 2, 3]);
    expect(offlinePlacement(corners, phases, axes, 0.75)).toHaveLength(3);
  });
});
