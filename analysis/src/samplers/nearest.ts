import { distance2 } from './space.js';

/**
 * For each point, the `k` nearest points of another class, nearest first,
 * ties to the lower index: exactly what comparing every pair gives, found in
 * a k-d tree per class instead. On a sweep of 100,000 trials the all-pairs
 * search ran minutes without giving the event loop back.
 */
export function nearestOfOtherClass<C>(
  points: readonly (readonly number[])[],
  classes: readonly C[],
  k: number,
): number[][] {
  const members = new Map<C, number[]>();
  classes.forEach((c, i) => {
    const list = members.get(c);
    if (list) list.push(i);
    else members.set(c, [i]);
  });
  const trees = new Map([...members].map(([c, indices]) => [c, buildTree(points, indices)]));
  return points.map((u, i) => {
    const found: Found[] = [];
    for (const [c, tree] of trees) {
      if (c !== classes[i])
        search(
          tree,
          points,
          u,
          k,
          found,
          0,
          u.map(() => 0),
        );
    }
    return found.map((f) => f.j);
  });
}

interface Found {
  j: number;
  d: number;
}

type Tree = { leaf: number[] } | { axis: number; split: number; below: Tree; above: Tree };

const LEAF_SIZE = 12;

/** Points below the split have its coordinate at most `split`, those above at least. */
function buildTree(points: readonly (readonly number[])[], indices: number[]): Tree {
  if (indices.length <= LEAF_SIZE) return { leaf: indices };
  const axis = widestAxis(points, indices);
  const sorted = [...indices].sort((a, b) => points[a]![axis]! - points[b]![axis]! || a - b);
  const mid = sorted.length >> 1;
  return {
    axis,
    split: points[sorted[mid]!]![axis]!,
    below: buildTree(points, sorted.slice(0, mid)),
    above: buildTree(points, sorted.slice(mid)),
  };
}

/**
 * The k-d search with incremental cell distances (Arya and Mount): `bound`
 * is the squared distance from `u` to the current cell, `offsets` its
 * per-axis parts, so a cell far from `u` in several coordinates is skipped
 * as a whole. The slack keeps rounding from skipping a cell whose point ties.
 */
function search(
  tree: Tree,
  points: readonly (readonly number[])[],
  u: readonly number[],
  k: number,
  found: Found[],
  bound: number,
  offsets: number[],
): void {
  if ('leaf' in tree) {
    for (const j of tree.leaf) offer(found, k, j, distance2(u, points[j]!));
    return;
  }
  const gap = u[tree.axis]! - tree.split;
  const [near, far] = gap < 0 ? [tree.below, tree.above] : [tree.above, tree.below];
  search(near, points, u, k, found, bound, offsets);
  const previous = offsets[tree.axis]!;
  const farBound = bound - previous * previous + gap * gap;
  if (found.length < k || farBound <= found[k - 1]!.d * (1 + 1e-9)) {
    offsets[tree.axis] = gap;
    search(far, points, u, k, found, farBound, offsets);
    offsets[tree.axis] = previous;
  }
}

/** Keep the k best by distance, then index. */
function offer(found: Found[], k: number, j: number, d: number): void {
  if (found.length === k && !before(d, j, found[k - 1]!)) return;
  let at = found.length;
  while (at > 0 && before(d, j, found[at - 1]!)) at--;
  found.splice(at, 0, { j, d });
  if (found.length > k) found.pop();
}

const before = (d: number, j: number, other: Found) => d < other.d || (d === other.d && j < other.j);

function widestAxis(points: readonly (readonly number[])[], indices: readonly number[]): number {
  const dims = points[indices[0]!]!.length;
  let best = 0;
  let bestSpread = -1;
  for (let a = 0; a < dims; a++) {
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (const i of indices) {
      low = Math.min(low, points[i]![a]!);
      high = Math.max(high, points[i]![a]!);
    }
    if (high - low > bestSpread) {
      bestSpread = high - low;
      best = a;
    }
  }
  return best;
}
