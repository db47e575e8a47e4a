import { streamFor } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { distance2, SAME_POINT, TakenPoints } from './space.js';

/** The answer TakenPoints replaces: a scan of every taken point. */
const scanned = (taken: number[][], u: number[]) => taken.some((t) => distance2(t, u) < SAME_POINT);

describe('TakenPoints', () => {
  it.each([1, 2, 3, 6])('answers as a scan of every point does, in %i dimensions', (dims) => {
    const rand = streamFor(11, dims, 'taken-points');
    const point = () => Array.from({ length: dims }, () => rand());
    // Continuous points, grid points (many share coordinates), and points a hair from others.
    const taken = [
      ...Array.from({ length: 300 }, point),
      ...Array.from({ length: 200 }, () => point().map((v) => Math.round(v * 4) / 4)),
    ];
    const index = new TakenPoints(taken);
    const queries = [
      ...taken.slice(0, 100),
      ...taken.slice(0, 200).map((t) => t.map((v) => v + (rand() - 0.5) * 1.2e-6)),
      ...taken.slice(0, 100).map((t) => t.map((v, d) => (d === 0 ? v + 0.99e-6 : v))),
      ...taken.slice(0, 100).map((t) => t.map((v, d) => (d === 0 ? v - 1.01e-6 : v))),
      ...Array.from({ length: 200 }, point),
    ];
    const answers = queries.map((u) => index.has(u));
    expect(answers).toEqual(queries.map((u) => scanned(taken, u)));
    // Both answers occur, so the comparison means something.
    expect(answers.filter(Boolean).length).toBeGreaterThan(200);
    expect(answers.filter((a) => !a).length).toBeGreaterThan(200);
  });

  it('knows a point once it is added', () => {
    const index = new TakenPoints();
    expect(index.has([0.5, 0.5])).toBe(false);
    index.add([0.5, 0.5]);
    expect(index.has([0.5, 0.5 + 1e-7])).toBe(true);
    expect(index.has([0.5, 0.5 + 2e-6])).toBe(false);
  });
});
