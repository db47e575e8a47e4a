/**
 * Cell edges for heatmaps: given the distinct centres along one axis, the
 * interval each centre owns (half-way to its neighbours, measured in log
 * space on a log axis), so rectangles tile the plane without gaps.
 */

export interface Interval {
  lo: number;
  hi: number;
}

/** Map from centre value to the interval it owns; a lone centre gets ±half a decade (log) or ±10% (linear). */
export function cellEdges(centres: Iterable<number>, log: boolean): Map<number, Interval> {
  const sorted = [...new Set(centres)]
    .filter((v) => Number.isFinite(v) && (!log || v > 0))
    .sort((a, b) => a - b);
  const out = new Map<number, Interval>();
  if (sorted.length === 0) return out;
  const fwd = log ? Math.log10 : (v: number) => v;
  const inv = log ? (v: number) => 10 ** v : (v: number) => v;
  const t = sorted.map(fwd);
  const lone = log ? 0.5 : Math.max(Math.abs(t[0]!) * 0.1, 0.5);
  sorted.forEach((v, i) => {
    const left = i > 0 ? (t[i]! - t[i - 1]!) / 2 : i + 1 < t.length ? (t[i + 1]! - t[i]!) / 2 : lone;
    const right = i + 1 < t.length ? (t[i + 1]! - t[i]!) / 2 : i > 0 ? (t[i]! - t[i - 1]!) / 2 : lone;
    out.set(v, { lo: inv(t[i]! - left), hi: inv(t[i]! + right) });
  });
  return out;
}

/** The [min, max] an axis should show so every cell is visible; null without finite values. */
export function axisDomain(edges: Map<number, Interval>): [number, number] | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const e of edges.values()) {
    lo = Math.min(lo, e.lo);
    hi = Math.max(hi, e.hi);
  }
  return Number.isFinite(lo) && Number.isFinite(hi) ? [lo, hi] : null;
}
