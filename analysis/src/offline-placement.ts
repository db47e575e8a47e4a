import { inverse, Matrix } from 'ml-matrix';
import { normalise } from './axes.js';
import { median } from './cells.js';
import { DEFAULT_LENGTH_SCALES, DEFAULT_NOISE_LEVELS, PROB_FLOOR, phaseMapKernel } from './phase-map.js';
import { type Axis, PHASES, type Phase } from './types.js';

/**
 * The fewest cells of a labelled grid that a placement knowing every label
 * needs for the phase map (phase-map.ts) to reach a target agreement: a
 * reference for how close an online sampler can come (the sampling bench).
 *
 * Backward elimination, one cell at a time: drop the cell whose removal keeps
 * the most cells right, ties to the lowest held-out loss. Each candidate
 * removal is judged with the hyperparameters `fitPhaseMap` would choose for
 * the cells left (its isotropic search: the lowest leave-one-location-out
 * Brier score over DEFAULT_LENGTH_SCALES × DEFAULT_NOISE_LEVELS, above the
 * shortest identifiable length scale). Refitting the map for every
 * candidate of every step is too slow for a bench; here every configuration
 * keeps K⁻¹ of the kept cells, and removing a cell is a rank-one downdate,
 * so an elimination over a published grid takes seconds. One cell at a time
 * matters: the map's choice of length scale jumps with single cells, and
 * dropping four per round with refits kept 34 and 21 cells on the published
 * grids where this keeps 29 and 14.
 *
 * `keep` names cells that stay whatever their use (trials already run), so an
 * online planner can ask which further cells a placement that knows every
 * label would add to them.
 *
 * Not emulated: the map's per-axis halving/doubling of length scales, and
 * its binning beyond 150 observations. Check a result with `fitPhaseMap`.
 */
export function offlinePlacement(
  cells: readonly (readonly number[])[],
  truth: readonly Phase[],
  axes: readonly Axis[],
  target: number,
  keep: readonly number[] = [],
): number[] {
  const locked = new Set(keep);
  const places = cells.map((x) => x.map((v, d) => normalise(axes[d]!, v)));
  const labels = truth.map((p) => PHASES.indexOf(p));
  const need = Math.ceil(target * cells.length - 1e-9);
  const kept = cells.map((_, i) => i);
  const configs = DEFAULT_LENGTH_SCALES.flatMap((lengthScale) =>
    DEFAULT_NOISE_LEVELS.map((noise) => new KeptCellsFit(lengthScale, noise, places, labels, kept)),
  );
  const counts = PHASES.map((_, c) => labels.filter((l) => l === c).length);
  while (kept.length > 3) {
    const neighbours = new NearestNeighbours(kept.map((i) => places[i]!));
    let best: { position: number; right: number; loss: number } | undefined;
    for (let position = 0; position < kept.length; position++) {
      if (locked.has(kept[position]!)) continue;
      const minScale = neighbours.shortestLengthScaleWithout(position);
      const removed = labels[kept[position]!]!;
      const prior = counts.map((n, c) => (n - (c === removed ? 1 : 0)) / (kept.length - 1));
      let chosen: KeptCellsFit | undefined;
      let loss = Number.POSITIVE_INFINITY;
      for (const fit of configs) {
        if (fit.lengthScale < minScale) continue;
        const l = fit.heldOutLossWithout(position, prior);
        if (Number.isFinite(l) && l < loss - 1e-9) {
          loss = l;
          chosen = fit;
        }
      }
      // No configuration allowed: the map would fall back to a length scale off the search; not emulated.
      if (!chosen) continue;
      const right = chosen.cellsRightWithout(position, prior);
      if (right < need) continue;
      if (!best || right > best.right || (right === best.right && loss < best.loss)) {
        best = { position, right, loss };
      }
    }
    if (!best) break;
    for (const fit of configs) fit.remove(best.position);
    counts[labels[kept[best.position]!]!]!--;
    kept.splice(best.position, 1);
  }
  return kept.sort((a, b) => a - b);
}

/**
 * GP regression on one-hot phase indicators at one (length scale, noise),
 * over the kept cells, in the form that makes removing one cell cheap:
 * A = K⁻¹, AY and A1 (Y the one-hot labels), and for every grid cell x the
 * row k_xᵀA with its products with Y and 1. The posterior mean at x with
 * prior shares p is p + k_xᵀAY − (k_xᵀA1) p; with cell i removed,
 * k_xᵀA restricted to the rest is k_xᵀA − (k_xᵀA)_i A_i· / A_ii.
 */
class KeptCellsFit {
  private a: Float64Array[];
  private aY: Float64Array[];
  private a1: Float64Array;
  private readonly gridRows: Float64Array[];
  private readonly gridY: Float64Array[];
  private readonly grid1: Float64Array;
  /** Labels of the kept cells, in kept order; gridLabels: of every cell. */
  private readonly labels: number[];
  private readonly gridLabels: readonly number[];

  constructor(
    readonly lengthScale: number,
    readonly noise: number,
    places: readonly number[][],
    labels: readonly number[],
    kept: readonly number[],
  ) {
    const kernel = phaseMapKernel(places[0]!.map(() => lengthScale));
    const n = kept.length;
    this.labels = kept.map((i) => labels[i]!);
    const k = new Matrix(n, n);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        k.set(r, c, kernel(places[kept[r]!]!, places[kept[c]!]!) + (r === c ? noise + 1e-8 : 0));
      }
    }
    this.a = inverse(k)
      .to2DArray()
      .map((row) => Float64Array.from(row));
    this.aY = this.a.map((row) => this.byPhase(row));
    this.a1 = Float64Array.from(this.a, (row) => row.reduce((s, v) => s + v, 0));
    // k_x includes the nugget where x is a kept cell: the map reproduces observed cells.
    this.gridRows = places.map((x, g) => {
      const kx = kept.map((i) => kernel(x, places[i]!) + (i === g ? noise : 0));
      const row = new Float64Array(n);
      kx.forEach((v, t) => {
        const at = this.a[t]!;
        for (let j = 0; j < n; j++) row[j]! += v * at[j]!;
      });
      return row;
    });
    this.gridY = this.gridRows.map((row) => this.byPhase(row));
    this.grid1 = Float64Array.from(this.gridRows, (row) => row.reduce((s, v) => s + v, 0));
    this.gridLabels = labels;
  }

  /** Σ_j row_j · onehot(label_j): a row's products with each phase's indicators. */
  private byPhase(row: Float64Array): Float64Array {
    const out = new Float64Array(PHASES.length);
    this.labels.forEach((l, j) => {
      out[l]! += row[j]!;
    });
    return out;
  }

  /** Mean leave-one-out Brier score over the kept cells but `i`, fitted without `i`. */
  heldOutLossWithout(i: number, prior: readonly number[]): number {
    const n = this.labels.length;
    const ai = this.a[i]!;
    const f = 1 / ai[i]!;
    let loss = 0;
    const mean = new Float64Array(PHASES.length);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const aji = ai[j]!;
      const ajj = this.a[j]![j]! - aji * aji * f;
      const a1j = this.a1[j]! - aji * f * this.a1[i]!;
      const label = this.labels[j]!;
      let sum = 0;
      for (let c = 0; c < PHASES.length; c++) {
        const alpha = this.aY[j]![c]! - aji * f * this.aY[i]![c]! - prior[c]! * a1j;
        mean[c] = Math.max(PROB_FLOOR, (c === label ? 1 : 0) - alpha / ajj);
        sum += mean[c]!;
      }
      for (let c = 0; c < PHASES.length; c++) loss += (mean[c]! / sum - (c === label ? 1 : 0)) ** 2;
    }
    return loss / (n - 1);
  }

  /** Grid cells whose most probable phase is their true one, fitted without kept cell `i`. */
  cellsRightWithout(i: number, prior: readonly number[]): number {
    const f = 1 / this.a[i]![i]!;
    let right = 0;
    this.gridRows.forEach((row, g) => {
      const b = row[i]! * f;
      const weight = 1 - (this.grid1[g]! - b * this.a1[i]!);
      let top = 0;
      let topMean = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < PHASES.length; c++) {
        const mean = this.gridY[g]![c]! - b * this.aY[i]![c]! + prior[c]! * weight;
        if (mean > topMean) {
          topMean = mean;
          top = c;
        }
      }
      if (top === this.gridLabels[g]) right++;
    });
    return right;
  }

  /** Remove kept cell `i` (rank-one downdate of everything above). */
  remove(i: number): void {
    const pivot = { row: Float64Array.from(this.a[i]!), y: Float64Array.from(this.aY[i]!), one: this.a1[i]! };
    downdate(this.gridRows, this.gridY, this.grid1, i, pivot);
    downdate(this.a, this.aY, this.a1, i, pivot);
    this.a = this.a.filter((_, j) => j !== i).map((row) => without(row, i));
    this.aY = this.aY.filter((_, j) => j !== i);
    this.a1 = without(this.a1, i);
    this.gridRows.forEach((row, g) => {
      this.gridRows[g] = without(row, i);
    });
    this.labels.splice(i, 1);
  }
}

/**
 * Rows r = kᵀA (K⁻¹'s own rows, or a grid cell's kernel row times K⁻¹) with their products with Y
 * and 1, as kept cell `i` leaves: r ← r − (r_i / A_ii) A_i·, the Sherman–Morrison step for K⁻¹
 * without row and column i (A is symmetric, so r_i is the coefficient for A's rows too).
 */
function downdate(
  rows: readonly Float64Array[],
  byPhase: readonly Float64Array[],
  ones: Float64Array,
  i: number,
  pivot: { row: Float64Array; y: Float64Array; one: number },
): void {
  const f = 1 / pivot.row[i]!;
  rows.forEach((row, r) => {
    const b = row[i]! * f;
    if (b === 0) return;
    for (let c = 0; c < PHASES.length; c++) byPhase[r]![c]! -= b * pivot.y[c]!;
    ones[r]! -= b * pivot.one;
    for (let j = 0; j < row.length; j++) row[j]! -= b * pivot.row[j]!;
  });
}

function without(row: Float64Array, i: number): Float64Array {
  const out = new Float64Array(row.length - 1);
  out.set(row.subarray(0, i));
  out.set(row.subarray(i + 1), i);
  return out;
}

/**
 * Each place's nearest and second-nearest other place, so that the map's
 * shortest length scale (phase-map.ts shortestLengthScale: half the median
 * nearest-neighbour distance) is known for the places less any one.
 */
class NearestNeighbours {
  private readonly nearest: { index: number; distance: number; second: number }[];

  constructor(places: readonly (readonly number[])[]) {
    this.nearest = places.map((a, i) => {
      let index = -1;
      let distance = Number.POSITIVE_INFINITY;
      let second = Number.POSITIVE_INFINITY;
      places.forEach((b, j) => {
        if (j === i) return;
        const d = Math.hypot(...a.map((v, k) => v - b[k]!));
        if (d < distance) {
          second = distance;
          distance = d;
          index = j;
        } else if (d < second) second = d;
      });
      return { index, distance, second };
    });
  }

  shortestLengthScaleWithout(removed: number): number {
    const distances = this.nearest.flatMap((n, j) =>
      j === removed ? [] : [n.index === removed ? n.second : n.distance],
    );
    return 0.5 * (median(distances.filter(Number.isFinite)) ?? 0);
  }
}
