import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { denormalise, normalise } from './axes.js';
import { median } from './cells.js';
import { type AnalysedTrial, type Axis, PHASES, type Phase } from './types.js';

/**
 * A probabilistic phase map over the continuous parameter space.
 *
 * Model: one-vs-rest Gaussian-process regression on phase indicators. Every
 * axis is mapped to [0, 1] (log10 first for log axes); all four phases share
 * one RBF kernel with per-axis length scales and a noise level, so one
 * Cholesky factor serves them all. The prior mean of each phase is its share
 * of the data, so far from any trial the map falls back to the base rates
 * and its uncertainty rises. Posterior means are clipped at a small floor
 * and normalised to probabilities; the uncertainty of a cell is the entropy
 * of those probabilities divided by log(4), in [0, 1].
 *
 * The noise term is a nugget, variation on a scale finer than the data
 * (an isolated cell of one phase inside another, seeds that disagree), not
 * an error in the labels: at a place that has been observed the map gives
 * the observed phase shares exactly, and only in between does it smooth.
 * On a grid of values (a categorical sweep, a published grid) the map so
 * never contradicts a trial at a cell; in the sampling bench, adaptive
 * sweeps map the Liu et al. grids in as many or fewer trials with it, on
 * every seed of 0–9.
 *
 * Hyperparameters are chosen by the leave-one-location-out Brier score
 * (closed form for GP regression: the held-out mean at i is
 * y_i − α_i / [K⁻¹]_ii), first over a grid of isotropic length scales and
 * noise levels, then by halving/doubling each axis's length scale while that
 * helps. Length scales stay above half the median distance between
 * neighbouring observations: shorter ones are not identifiable from the data.
 *
 * Scale: seeds at the same point are merged into one observation with
 * noise σ²/m (exact for GP regression); beyond `maxPoints` distinct points
 * the space is binned on a regular grid and each bin becomes one weighted
 * observation. Everything is deterministic and independent of input order.
 */

export interface PhasePoint {
  /** Raw parameter values, one per axis, in axis order. */
  x: number[];
  phase: Phase;
}

export interface PhaseMapFitOptions {
  /** Distinct observations kept before binning (default 300). */
  maxPoints?: number;
  /** Isotropic length scales tried, in normalised units (default 0.06 … 0.6). */
  lengthScales?: number[];
  /** Noise variances tried, relative to a unit-variance kernel (default 0.02, 0.1, 0.4). */
  noiseLevels?: number[];
  /** Tune each axis's length scale after the isotropic search (default true). */
  tuneAxes?: boolean;
}

/** A fitted phase map model: plain data, JSON-serialisable. */
export interface PhaseMapModel {
  axes: Axis[];
  phases: Phase[];
  /** Per-axis RBF length scales in normalised coordinates. */
  lengthScales: number[];
  noise: number;
  /** Prior probability of each phase (its share of the points), in `phases` order. */
  prior: number[];
  /** Normalised coordinates of the observations (merged or binned). */
  inputs: number[][];
  /** Per observation, per phase: the GP weights K⁻¹(y − prior). */
  weights: number[][];
  /** Points merged into each observation (its nugget is noise / count). */
  counts: number[];
  /** Points the model was fitted on, and the distinct observations they became. */
  pointCount: number;
  observationCount: number;
  /** Leave-one-location-out Brier score per point at the chosen hyperparameters; null if not computable. */
  looLoss: number | null;
}

export interface PhaseMapCell {
  /** Raw parameter values, one per axis. */
  x: number[];
  probs: Record<Phase, number>;
  /** The most probable phase. */
  phase: Phase;
  /** Entropy of `probs` over log(4): 0 certain, 1 uniform. */
  uncertainty: number;
}

export interface PhaseMap {
  axes: Axis[];
  /** Cells per axis. */
  resolution: number[];
  /**
   * Cell centres of a regular grid in normalised coordinates, (i + ½)/resolution
   * on each axis; the first axis varies slowest.
   */
  cells: PhaseMapCell[];
}

/** Posterior means are clipped here before normalising (exported for code that emulates the map). */
export const PROB_FLOOR = 1e-3;
/** Diagonal jitter tried in turn until the kernel matrix factors. */
const JITTERS = [1e-8, 1e-6, 1e-4, 1e-2];
/** The isotropic search `fitPhaseMap` runs by default, length scale major (exported for code that emulates it). */
export const DEFAULT_LENGTH_SCALES: readonly number[] = [0.06, 0.09, 0.13, 0.19, 0.28, 0.4, 0.6];
export const DEFAULT_NOISE_LEVELS: readonly number[] = [0.02, 0.1, 0.4];
const FALLBACK_LENGTH_SCALE = 0.2;
const FALLBACK_NOISE = 0.1;
const MAX_LENGTH_SCALE = 4;
/** Observations used to choose hyperparameters (coarser binning beyond this). */
const SELECTION_POINTS = 150;

/** Fit the model to classified points. Throws on a point with the wrong dimension or a value off its axis's scale. */
export function fitPhaseMap(
  points: readonly PhasePoint[],
  axes: readonly Axis[],
  options: PhaseMapFitOptions = {},
): PhaseMapModel {
  const observations = observe(points, axes, options.maxPoints ?? 300);
  const prior = phaseShares(observations);
  const base = {
    axes: [...axes],
    phases: [...PHASES],
    prior,
    inputs: observations.map((o) => o.u),
    counts: observations.map((o) => o.m),
    pointCount: points.length,
    observationCount: observations.length,
  };
  if (observations.length < 3) {
    const scales = axes.map(() => FALLBACK_LENGTH_SCALE);
    const fit = fitGp(observations, prior, scales, FALLBACK_NOISE, false);
    return { ...base, lengthScales: scales, noise: FALLBACK_NOISE, weights: fit.weights, looLoss: null };
  }
  const chosen = selectHyperparameters(
    observations.length > SELECTION_POINTS ? observe(points, axes, SELECTION_POINTS) : observations,
    prior,
    axes.length,
    options,
  );
  const final = fitGp(observations, prior, chosen.lengthScales, chosen.noise, false);
  return {
    ...base,
    lengthScales: chosen.lengthScales,
    noise: chosen.noise,
    weights: final.weights,
    looLoss: chosen.looLoss,
  };
}

/** Grid search over isotropic scales and noise, then per-axis halving/doubling while the held-out loss improves. */
function selectHyperparameters(
  obs: readonly Observation[],
  prior: readonly number[],
  dims: number,
  options: PhaseMapFitOptions,
): GpFit {
  const minScale = shortestLengthScale(obs.map((o) => o.u));
  let best: GpFit | undefined;
  const consider = (lengthScales: number[], noise: number) => {
    const fit = fitGp(obs, prior, lengthScales, noise, true);
    if (Number.isFinite(fit.looLoss) && (!best || fit.looLoss! < best.looLoss! - 1e-9)) best = fit;
  };
  const scales = (options.lengthScales ?? DEFAULT_LENGTH_SCALES).filter((l) => l >= minScale);
  for (const ell of scales.length > 0 ? scales : [minScale]) {
    for (const noise of options.noiseLevels ?? DEFAULT_NOISE_LEVELS) consider(Array(dims).fill(ell), noise);
  }
  const tuneAxes = options.tuneAxes ?? true;
  for (let d = 0; d < dims && dims > 1 && tuneAxes && best; d++) {
    for (const factor of [0.5, 2]) {
      for (let step = 0; step < 3; step++) {
        const previous: GpFit = best!;
        const next = previous.lengthScales[d]! * factor;
        if (next < minScale || next > MAX_LENGTH_SCALE) break;
        consider(
          previous.lengthScales.map((l, i) => (i === d ? next : l)),
          previous.noise,
        );
        if (best === previous) break;
      }
    }
  }
  return best ?? fitGp(obs, prior, Array(dims).fill(FALLBACK_LENGTH_SCALE), FALLBACK_NOISE, false);
}

/**
 * Phase probabilities at raw points (one value per axis each). At an
 * observed place the kernel includes that observation's nugget, so the
 * mean there is its observed phase shares.
 */
export function predictPhaseMap(model: PhaseMapModel, grid: readonly number[][]): PhaseMapCell[] {
  const inv2 = model.lengthScales.map((l) => 1 / (2 * l * l));
  return grid.map((x) => {
    const u = x.map((v, d) => normalise(model.axes[d]!, v));
    const mean = [...model.prior];
    model.inputs.forEach((xi, i) => {
      const k = rbf(u, xi, inv2) + (samePlace(u, xi) ? model.noise / model.counts[i]! : 0);
      const w = model.weights[i]!;
      for (let c = 0; c < mean.length; c++) mean[c]! += k * w[c]!;
    });
    const p = toProbabilities(mean);
    const probs = Object.fromEntries(model.phases.map((ph, c) => [ph, p[c]!])) as Record<Phase, number>;
    let top = 0;
    for (let c = 1; c < p.length; c++) if (p[c]! > p[top]!) top = c;
    return { x: [...x], probs, phase: model.phases[top]!, uncertainty: normalisedEntropy(p) };
  });
}

/** Centres of a regular grid over the axes (raw values), first axis slowest. */
export function gridPoints(axes: readonly Axis[], resolution: number | readonly number[]): number[][] {
  const res = perAxis(axes, resolution);
  let out: number[][] = [[]];
  axes.forEach((axis, d) => {
    const n = res[d]!;
    const values = Array.from({ length: n }, (_, i) => denormalise(axis, (i + 0.5) / n));
    out = out.flatMap((prefix) => values.map((v) => [...prefix, v]));
  });
  return out;
}

/** Points of classified trials whose parameters are numbers on every axis. */
export function phasePoints(trials: readonly AnalysedTrial[], axes: readonly Axis[]): PhasePoint[] {
  return trials.flatMap((t) => {
    if (!t.classification) return [];
    const x = axes.map((a) => t.params[a.name]);
    if (!x.every((v): v is number => typeof v === 'number' && Number.isFinite(v))) return [];
    return [{ x, phase: t.classification.phase }];
  });
}

/** Fit on the classified trials and predict on a regular grid of `resolution` cells per axis. */
export function estimatePhaseMap(
  trials: readonly AnalysedTrial[],
  axes: readonly Axis[],
  options: PhaseMapFitOptions & { resolution: number | number[] },
): PhaseMap {
  const model = fitPhaseMap(phasePoints(trials, axes), axes, options);
  const resolution = perAxis(axes, options.resolution);
  return { axes: [...axes], resolution, cells: predictPhaseMap(model, gridPoints(axes, resolution)) };
}

function perAxis(axes: readonly Axis[], resolution: number | readonly number[]): number[] {
  return axes.map((_, d) => (typeof resolution === 'number' ? resolution : resolution[d]!));
}

/** Entropy of a probability vector over log(length): 0 for a certain outcome, 1 for uniform. */
export function normalisedEntropy(p: readonly number[]): number {
  let h = 0;
  for (const q of p) if (q > 0) h -= q * Math.log(q);
  return p.length > 1 ? Math.min(1, h / Math.log(p.length)) : 0;
}

interface Observation {
  /** Normalised coordinates. */
  u: number[];
  /** Share of the observation's points in each phase. */
  y: number[];
  /** Points merged into it. */
  m: number;
}

interface GpFit {
  lengthScales: number[];
  noise: number;
  weights: number[][];
  looLoss: number | null;
}

/** Normalise, merge points at the same place, and bin when there are more than `maxPoints` places. */
function observe(points: readonly PhasePoint[], axes: readonly Axis[], maxPoints: number): Observation[] {
  const us = points.map((p) => {
    if (p.x.length !== axes.length) {
      throw new Error(`phase point has ${p.x.length} coordinates, expected ${axes.length}`);
    }
    const u = p.x.map((v, d) => normalise(axes[d]!, v));
    if (!u.every(Number.isFinite))
      throw new Error(`phase point ${JSON.stringify(p.x)} is off its axes' scale`);
    return u;
  });
  const exact = mergeBy(points, us, (u) => u.join(','));
  if (exact.length <= maxPoints) return exact;
  // An axis with no more distinct values than bins (model sizes, say) keeps its values exactly.
  const distinct = axes.map((_, d) => new Set(us.map((u) => u[d])).size);
  for (let bins = maxPoints; ; bins = Math.floor(bins * 0.85)) {
    const binned = mergeBy(points, us, (u) =>
      u.map((v, d) => (distinct[d]! <= bins ? v : Math.min(bins - 1, Math.floor(v * bins)))).join(','),
    );
    if (binned.length <= maxPoints || bins <= 1) return binned;
  }
}

/** Merge points by key: mean position, phase shares, count; sorted by position for order independence. */
function mergeBy(points: readonly PhasePoint[], us: number[][], key: (u: number[]) => string): Observation[] {
  const groups = new Map<string, { sum: number[]; counts: number[]; m: number }>();
  points.forEach((p, i) => {
    const u = us[i]!;
    const k = key(u);
    let g = groups.get(k);
    if (!g) {
      g = { sum: u.map(() => 0), counts: PHASES.map(() => 0), m: 0 };
      groups.set(k, g);
    }
    u.forEach((v, d) => {
      g.sum[d]! += v;
    });
    g.counts[PHASES.indexOf(p.phase)]!++;
    g.m++;
  });
  return [...groups.values()]
    .map((g) => ({ u: g.sum.map((s) => s / g.m), y: g.counts.map((c) => c / g.m), m: g.m }))
    .sort((a, b) => compareVectors(a.u, b.u));
}

function phaseShares(observations: readonly Observation[]): number[] {
  const total = observations.reduce((s, o) => s + o.m, 0);
  if (total === 0) return PHASES.map(() => 1 / PHASES.length);
  return PHASES.map((_, c) => observations.reduce((s, o) => s + o.m * o.y[c]!, 0) / total);
}

/** GP weights for every phase, and optionally the leave-one-location-out cross-entropy. */
function fitGp(
  obs: readonly Observation[],
  prior: readonly number[],
  lengthScales: number[],
  noise: number,
  withLoo: boolean,
): GpFit {
  const n = obs.length;
  if (n === 0) return { lengthScales, noise, weights: [], looLoss: null };
  const inv2 = lengthScales.map((l) => 1 / (2 * l * l));
  const k = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    k.set(i, i, 1 + noise / obs[i]!.m);
    for (let j = 0; j < i; j++) {
      const v = rbf(obs[i]!.u, obs[j]!.u, inv2);
      k.set(i, j, v);
      k.set(j, i, v);
    }
  }
  const linv = lowerInverse(cholesky(k));
  // α = K⁻¹ r = L⁻ᵀ (L⁻¹ r) for each phase's centred indicators r.
  const weights: number[][] = obs.map(() => prior.map(() => 0));
  prior.forEach((p0, c) => {
    const r = Float64Array.from(obs, (o) => o.y[c]! - p0);
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const row = linv[i]!;
      let z = 0;
      for (let j = 0; j <= i; j++) z += row[j]! * r[j]!;
      // Row-wise accumulation of L⁻ᵀ z keeps the memory access sequential.
      for (let j = 0; j <= i; j++) w[j]! += row[j]! * z;
    }
    w.forEach((v, j) => {
      weights[j]![c] = v;
    });
  });
  if (!withLoo) return { lengthScales, noise, weights, looLoss: null };
  // [K⁻¹]_ii = Σ_j (L⁻¹)_ji²
  const diag = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const row = linv[j]!;
    for (let i = 0; i <= j; i++) diag[i]! += row[i]! * row[i]!;
  }
  // Brier score of the held-out probabilities against each place's phase shares:
  // bounded, so one confidently wrong place cannot push the fit to degenerate scales.
  let loss = 0;
  let total = 0;
  obs.forEach((o, i) => {
    const p = toProbabilities(o.y.map((y, c) => y - weights[i]![c]! / diag[i]!));
    o.y.forEach((share, c) => {
      loss += o.m * (p[c]! - share) ** 2;
    });
    total += o.m;
  });
  return { lengthScales, noise, weights, looLoss: loss / total };
}

/** Lower Cholesky factor (dense rows), adding diagonal jitter if rounding makes the matrix indefinite. */
function cholesky(k: Matrix): number[][] {
  for (const jitter of JITTERS) {
    const jittered = k.clone();
    for (let i = 0; i < k.rows; i++) jittered.set(i, i, k.get(i, i) + jitter);
    const decomposition = new CholeskyDecomposition(jittered);
    if (decomposition.isPositiveDefinite()) return decomposition.lowerTriangularMatrix.to2DArray();
  }
  throw new Error('kernel matrix is not positive definite even with jitter');
}

/** Inverse of a lower-triangular matrix (rows of a dense array), by forward substitution. */
function lowerInverse(l: number[][]): Float64Array[] {
  const n = l.length;
  const inv = Array.from({ length: n }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const li = l[i]!;
    const out = inv[i]!;
    const d = li[i]!;
    out[i] = 1 / d;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += li[k]! * inv[k]![j]!;
      out[j] = -s / d;
    }
  }
  return inv;
}

/** The model's kernel at given length scales, for code that reasons about its posterior (samplers). */
export function phaseMapKernel(
  lengthScales: readonly number[],
): (a: readonly number[], b: readonly number[]) => number {
  const inv2 = lengthScales.map((l) => 1 / (2 * l * l));
  return (a, b) => rbf(a, b, inv2);
}
function samePlace(a: readonly number[], b: readonly number[]): boolean {
  for (let d = 0; d < a.length; d++) if (a[d] !== b[d]) return false;
  return true;
}

function rbf(a: readonly number[], b: readonly number[], inv2: readonly number[]): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) {
    const diff = a[d]! - b[d]!;
    s += diff * diff * inv2[d]!;
  }
  return Math.exp(-s);
}

/** Clip posterior means at a small floor and normalise them to sum to one. */
function toProbabilities(mean: readonly number[]): number[] {
  const clipped = mean.map((v) => Math.max(PROB_FLOOR, v));
  const sum = clipped.reduce((s, v) => s + v, 0);
  return clipped.map((v) => v / sum);
}

/**
 * The shortest length scale the map considers for observations at these normalised places: half
 * the median distance to the nearest other one (shorter ones are not identifiable from the data).
 */
function shortestLengthScale(places: readonly (readonly number[])[]): number {
  const nearest = places.map((a, i) => {
    let best = Number.POSITIVE_INFINITY;
    places.forEach((b, j) => {
      if (j !== i) best = Math.min(best, Math.hypot(...a.map((v, d) => v - b[d]!)));
    });
    return best;
  });
  return 0.5 * (median(nearest.filter(Number.isFinite)) ?? 0);
}

function compareVectors(a: readonly number[], b: readonly number[]): number {
  for (let d = 0; d < a.length; d++) if (a[d] !== b[d]) return a[d]! - b[d]!;
  return 0;
}
