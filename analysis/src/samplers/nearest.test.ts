import { streamFor } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { nearestOfOtherClass } from './nearest.js';
import { distance2 } from './space.js';

/** Every pair compared: the k nearest of another class, nearest first, ties to the lower index. */
function allPairs(points: number[][], classes: string[], k: number): number[][] {
  return points.map((u, i) =>
    points
      .map((v, j) => ({ j, d: distance2(u, v) }))
      .filter(({ j }) => classes[j] !== classes[i])
      .sort((a, b) => a.d - b.d || a.j - b.j)
      .slice(0, k)
      .map(({ j }) => j),
  );
}

describe('nearestOfOtherClass', () => {
  it.each([
    [1, 3],
    [2, 3],
    [2, 1],
    [4, 2],
  ])('finds what comparing every pair finds, in %i dimensions with k = %i', (dims, k) => {
    const rand = streamFor(3, dims * 10 + k, 'nearest');
    // Continuous points, and grid points whose many equal distances test the ties.
    const points = Array.from({ length: 400 }, (_, i) =>
      Array.from({ length: dims }, () => (i % 2 ? rand() : Math.round(rand() * 5) / 5)),
    );
    const classes = points.map((p) => (p[0]! + (p[1] ?? 0) > 1 ? 'g' : rand() < 0.1 ? 'c' : 'm'));
    expect(nearestOfOtherClass(points, classes, k)).toEqual(allPairs(points, classes, k));
  });

  it('finds fewer when fewer points are of another class, and none when all share one', () => {
    expect(nearestOfOtherClass([[0], [1], [2]], ['a', 'a', 'b'], 3)).toEqual([[2], [2], [1, 0]]);
    expect(nearestOfOtherClass([[0], [1]], ['a', 'a'], 3)).toEqual([[], []]);
  });
});
