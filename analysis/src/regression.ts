import type {
  BoundaryShift,
  CellChange,
  DelayRatioChange,
  RegressionComparison,
  RegressionThresholds,
} from '@grokmap/workflows';
import { type BoundaryEstimate, type BoundaryPoint, estimateBoundary } from './boundary.js';
import { aggregateCells, type Cell, median } from './cells.js';
import type { AnalysedTrial } from './types.js';

/**
 * A scheduled sweep against its baseline: which cells changed phase, how far
 * each estimated boundary point moved against the baseline's bootstrap
 * interval, and how the median grokking delay R = t_val / t_train changed.
 *
 * The verdict, in order:
 * - `baseline`: there is no baseline; this run becomes one.
 * - `inconclusive`: no cell is classified in both sweeps, or fewer than
 *   `minConfidence` of the baseline's cells have seeds that agree — the
 *   baseline itself is too uncertain to say anything moved.
 * - `regressed`: more than `maxChangedCells` of the compared cells changed
 *   phase; or a boundary point moved by more than `maxBoundaryShift` and out
 *   of the baseline's interval (points whose baseline interval is wider than
 *   `maxBaselineWidth` of the sampled range are not judged); or the median
 *   delay ratio changed by more than `maxDelayRatioChange` (when set).
 * - `pass` otherwise.
 *
 * Pure and deterministic (the boundary bootstrap is seeded).
 */

export interface RegressionCompareOptions {
  /** Parameters that identify a cell: the swept ones, seeds excluded. */
  cellKeys: readonly string[];
  /** Boundary axes; no boundary is compared when either is absent from `cellKeys`. */
  along?: string;
  by?: string;
  thresholds: RegressionThresholds;
  /** Bootstrap replicates of the boundary estimate (default 400). */
  bootstrap?: number;
}

/** The cell keys and boundary axes of a sweep from its swept parameter names. */
export function regressionAxes(
  swept: readonly string[],
  seedKeys: readonly string[] = ['seed'],
): { cellKeys: string[]; along?: string; by?: string } {
  const cellKeys = swept.filter((k) => !seedKeys.includes(k));
  const along = cellKeys.includes('data_fraction') ? 'data_fraction' : cellKeys[1];
  const by = cellKeys.includes('weight_decay') ? 'weight_decay' : cellKeys.find((k) => k !== along);
  return { cellKeys, ...(along && by && along !== by ? { along, by } : {}) };
}

export function compareSweeps(
  baseline: readonly AnalysedTrial[] | null,
  current: readonly AnalysedTrial[],
  options: RegressionCompareOptions,
): RegressionComparison {
  const t = options.thresholds;
  const currentCells = aggregateCells(current, options.cellKeys);
  if (baseline === null) {
    return {
      verdict: 'baseline',
      reasons: ['no baseline to compare with: this run becomes the baseline'],
      comparedCells: 0,
      changedCells: [],
      changedShare: 0,
      baselineConfidence: confidence(currentCells),
      boundary: null,
      delayRatio: { baselineMedian: null, currentMedian: null, factor: null, exceeds: false },
      thresholds: t,
    };
  }

  const baselineCells = aggregateCells(baseline, options.cellKeys);
  const byKey = new Map(baselineCells.map((c) => [c.key, c]));
  const pairs = currentCells.flatMap((c) => {
    const b = byKey.get(c.key);
    return b && b.phase !== null && c.phase !== null ? [{ b, c }] : [];
  });
  const changedCells: CellChange[] = pairs
    .filter(({ b, c }) => b.phase !== c.phase)
    .map(({ b, c }) => ({ key: c.key, params: c.params, baseline: b.phase, current: c.phase }));
  const changedShare = pairs.length === 0 ? 0 : changedCells.length / pairs.length;
  const baselineConfidence = confidence(baselineCells);

  const boundary = compareBoundaries(baseline, current, options);
  const delayRatio = compareDelay(
    pairs.map((p) => p.b),
    pairs.map((p) => p.c),
    t,
  );

  const reasons: string[] = [];
  const base = { comparedCells: pairs.length, changedCells, changedShare, baselineConfidence };
  const result = (verdict: RegressionComparison['verdict']): RegressionComparison => ({
    verdict,
    reasons,
    ...base,
    boundary,
    delayRatio,
    thresholds: t,
  });

  if (pairs.length === 0) {
    reasons.push('no cell is classified in both this sweep and the baseline');
    return result('inconclusive');
  }
  if (baselineConfidence < t.minConfidence) {
    reasons.push(
      `baseline too uncertain: seeds agree in ${pct(baselineConfidence)} of its cells, below min_confidence ${pct(t.minConfidence)}`,
    );
    return result('inconclusive');
  }
  if (changedShare > t.maxChangedCells) {
    reasons.push(
      `${changedCells.length} of ${pairs.length} cells (${pct(changedShare)}) changed phase, above max_changed_cells ${pct(t.maxChangedCells)}`,
    );
  }
  for (const s of boundary?.shifts ?? []) {
    if (!s.exceeds) continue;
    reasons.push(
      `boundary of ${boundary!.along} at ${boundary!.by} = ${fmt(s.at)}${groupText(s.group)} moved ${s.shift > 0 ? '+' : ''}${fmt(s.shift)} ` +
        `(${fmt(s.baseline.estimate)} → ${fmt(s.current.estimate)}, baseline interval [${fmt(s.baseline.lo)}, ${fmt(s.baseline.hi)}])`,
    );
  }
  if (delayRatio.exceeds) {
    reasons.push(
      `median delay ratio changed ×${fmt(delayRatio.factor!)} (${fmt(delayRatio.baselineMedian!)} → ${fmt(delayRatio.currentMedian!)}), above max_delay_ratio_change ${fmt(t.maxDelayRatioChange!)}`,
    );
  }
  if (reasons.length > 0) return result('regressed');
  reasons.push(
    `${changedCells.length} of ${pairs.length} cells changed phase; no boundary moved past its baseline interval`,
  );
  return result('pass');
}

/** Share of classified cells whose seeds agree (not mixed); 1 when none is classified. */
function confidence(cells: readonly Cell[]): number {
  const classified = cells.filter((c) => c.phase !== null);
  if (classified.length === 0) return 1;
  return classified.filter((c) => c.phase !== 'mixed').length / classified.length;
}

function compareBoundaries(
  baseline: readonly AnalysedTrial[],
  current: readonly AnalysedTrial[],
  options: RegressionCompareOptions,
): RegressionComparison['boundary'] {
  const { along, by } = options;
  if (!along || !by || along === by) return null;
  const groupBy = options.cellKeys.filter((k) => k !== along && k !== by);
  const settings = { along, by, groupBy, bootstrap: options.bootstrap ?? 400 };
  const b = pointsByKey(estimateBoundary(baseline, settings));
  const c = pointsByKey(estimateBoundary(current, settings));
  const t = options.thresholds;
  const shifts: BoundaryShift[] = [];
  for (const [key, cur] of c) {
    const base = b.get(key);
    if (!base) continue;
    const values = base.point.rates.map((r) => r.value);
    const range = values.length > 0 ? Math.max(...values) - Math.min(...values) : 0;
    const uncertain = range > 0 && base.point.hi - base.point.lo > t.maxBaselineWidth * range;
    const shift = cur.point.estimate - base.point.estimate;
    const outsideInterval = cur.point.estimate < base.point.lo || cur.point.estimate > base.point.hi;
    shifts.push({
      group: cur.group,
      at: cur.point.at,
      baseline: interval(base.point),
      current: interval(cur.point),
      shift,
      outsideInterval,
      uncertain,
      exceeds: !uncertain && outsideInterval && Math.abs(shift) > t.maxBoundaryShift,
    });
  }
  return { along, by, shifts };
}

function pointsByKey(
  estimate: BoundaryEstimate,
): Map<string, { group: Record<string, unknown>; point: BoundaryPoint }> {
  const out = new Map<string, { group: Record<string, unknown>; point: BoundaryPoint }>();
  for (const curve of estimate.curves) {
    for (const point of curve.points)
      out.set(JSON.stringify([sortedEntries(curve.group), point.at]), { group: curve.group, point });
  }
  return out;
}

function compareDelay(baseline: Cell[], current: Cell[], t: RegressionThresholds): DelayRatioChange {
  const ratios = (cells: Cell[]) => cells.flatMap((c) => (c.medianRatio === null ? [] : [c.medianRatio]));
  const baselineMedian = median(ratios(baseline));
  const currentMedian = median(ratios(current));
  const factor =
    baselineMedian !== null && currentMedian !== null && baselineMedian > 0
      ? currentMedian / baselineMedian
      : null;
  const limit = t.maxDelayRatioChange;
  const exceeds =
    limit !== undefined && factor !== null && factor > 0 && (factor > limit || factor < 1 / limit);
  return { baselineMedian, currentMedian, factor, exceeds };
}

function interval(p: BoundaryPoint): { estimate: number; lo: number; hi: number } {
  return { estimate: p.estimate, lo: p.lo, hi: p.hi };
}

function sortedEntries(o: Record<string, unknown>): [string, unknown][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function groupText(group: Record<string, unknown>): string {
  const parts = Object.entries(group).map(([k, v]) => `${k} = ${String(v)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
const fmt = (x: number) => String(Number(x.toPrecision(3)));
