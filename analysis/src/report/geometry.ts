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
  // Boundaries half-way between neighbours, shared by both so adjacent cells meet exactly.
  const mids = t.slice(1).map((v, i) => inv((t[i]! + v) / 2));
  const firstHalf = t.length > 1 ? (t[1]! - t[0]!) / 2 : lone;
  const lastHalf = t.length > 1 ? (t[t.length - 1]! - t[t.length - 2]!) / 2 : lone;
  sorted.forEach((v, i) => {
    out.set(v, {
      lo: i > 0 ? mids[i - 1]! : inv(t[0]! - firstHalf),
      hi: i < mids.length ? mids[i]! : inv(t[t.length - 1]! + lastHalf),
    });
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
