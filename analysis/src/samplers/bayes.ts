import { type SweepSpec, streamFor } from '@grokmap/workflows';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import {
  encodePoint,
  latinHypercube,
  pointAt,
  type SearchSpace,
  searchSpace,
  snap,
  TakenPoints,
} from './space.js';
import { forwardSolve } from './triangular.js';
import type { SamplerPoint, SamplerState } from './types.js';

/**
 * `method: bayes`: Gaussian-process Bayesian optimisation of the spec's metric.
 *
 * - Space: every searched parameter in [0, 1] (log10 first on log-scale
 *   parameters; integers, q_uniform steps and categoricals snapped on decode;
 *   categoricals of non-numbers by index; seeds cycled, see space.ts).
 * - Design: the first max(5, 2·dims) trials are a Latin hypercube.
 * - Target: the metric, negated for `goal: maximize`, log10 when every value
 *   is positive and they span a factor ≥ 10 (step counts), standardised.
 *   Failed trials (no metric) are skipped. Censored trials (the run hit
 *   max_steps first, so the metric is a bound) count at the censoring value:
 *   for a minimised step count that is the worst value seen, which steers
 *   the search away from them as it should.
 * - Model: GP with a Matérn 5/2 kernel, one length scale per dimension
 *   (ARD), unit signal variance on the standardised target and a noise
 *   variance; hyperparameters maximise the log marginal likelihood (with a
 *   weak log-normal prior on length scales) by a grid over isotropic scales
 *   and noise levels, then coordinate search per dimension from the best two.
 *   Beyond 150 observations the hyperparameters, and beyond 1,000 the GP,
 *   use the best half and a spread of the rest (observationSubset): past
 *   that, a proposal's cost grows with the sweep only through choosing that
 *   subset and filing the points taken (TakenPoints).
 * - Batch: q points by expected improvement with the Kriging believer
 *   (each chosen point, and every pending trial, joins the GP at its
 *   predicted mean), over a seeded random set of candidates plus local
 *   perturbations of the best points; every point differs from all the
 *   sweep's other points.
 */

export function initialDesignSize(dims: number): number {
  return Math.max(5, 2 * dims);
}

const CANDIDATES = 1024;
const LOCAL_CANDIDATES = 48;
const LOCAL_CENTRES = 5;
const ISO_SCALES = [0.08, 0.16, 0.32, 0.64, 1.28];
const NOISES = [1e-4, 1e-2, 0.1];
const SCALE_BOUNDS = [0.02, 20] as const;
const NOISE_BOUNDS = [1e-6, 1] as const;
const PRIOR_LOG_SCALE = Math.log(0.4);
const PRIOR_LOG_SD = 1.5;
/** Observations the hyperparameters are fitted on, at most (see observationSubset). */
const HYPERPARAMETER_POINTS = 150;
/** Observations the GP of a proposal conditions on, at most (see observationSubset). */
const GP_POINTS = 1000;
/** Pending trials added to the GP between two yields of a proposal. */
const BELIEVED_PER_STEP = 64;
/** The largest diagonal jitter factor() adds to a kernel matrix that does not factor. */
const MAX_JITTER = 1e-4;
/** Observations the standard-deviation bound conditions on (see maxExpectedImprovement). */
const BOUND_NEIGHBOURS = 12;

/**
 * Coordinates for `n` new bayes trials; the caller assigns indices
 * nextIndex, nextIndex + 1, … It yields after each point, so that a caller
 * on an event loop can let timers run between them (suggest.ts).
 */
export function* bayesProposalSteps(
  spec: Pick<SweepSpec, 'parameters' | 'seed' | 'metric'>,
  state: SamplerState,
  n: number,
): Generator<void, SamplerPoint[], void> {
  const space = searchSpace(spec, { numericOnly: false });
  const dims = space.dims.length;
  const design = initialDesignSize(dims);
  const taken = new TakenPoints(
    [...state.observations, ...state.pending].map((o) => encodePoint(space, o.point)),
  );
  const points: SamplerPoint[] = [];
  const usable = state.observations.filter((o) => o.metric !== null);
  let gp: Gp | undefined;
  for (let k = 0; k < n; k++) {
    const index = state.nextIndex + k;
    let u: number[];
    if (dims === 0) {
      u = [];
    } else if (index < design || usable.length < 2) {
      u = designPoint(space, spec.seed, index, design, taken);
    } else {
      gp ??= yield* believerGp(space, spec, state, usable);
      u = bestCandidate(space, gp, spec.seed, index, taken);
      gp = gp.believe(u);
    }
    taken.add(u);
    points.push(pointAt(space, u, index, spec.seed));
    if (k < n - 1) yield;
  }
  return points;
}

/** Trial `index` of the Latin hypercube (or a fresh random point past it, or if it repeats a point). */
function designPoint(
  space: SearchSpace,
  seed: number,
  index: number,
  size: number,
  taken: TakenPoints,
): number[] {
  const dims = space.dims.length;
  if (index < size) {
    const u = snap(space, latinHypercube(size, dims, streamFor(seed, 0, 'bayes-design'))[index]!);
    if (!taken.has(u)) return u;
  }
  const rand = streamFor(seed, index, 'bayes-random');
  let u = snap(
    space,
    space.dims.map(() => rand()),
  );
  for (let tries = 0; tries < 100 && taken.has(u); tries++) {
    u = snap(
      space,
      space.dims.map(() => rand()),
    );
  }
  return u;
}

/** The GP on observed metrics, with pending trials added at their predicted means (yielding every BELIEVED_PER_STEP). */
function* believerGp(
  space: SearchSpace,
  spec: Pick<SweepSpec, 'metric'>,
  state: SamplerState,
  usable: SamplerState['observations'],
): Generator<void, Gp, void> {
  let gp = observedGp(space, spec, usable);
  for (const [k, p] of state.pending.entries()) {
    const u = encodePoint(space, p.point);
    gp = gp.believe(u);
    // A sweep may have up to 2,000 trials out, each an O(n²) step here.
    if ((k + 1) % BELIEVED_PER_STEP === 0) yield;
  }
  return gp;
}

/** The GP on observed metrics: hyperparameters on at most HYPERPARAMETER_POINTS of them, conditioned on at most GP_POINTS. */
export function observedGp(
  space: SearchSpace,
  spec: Pick<SweepSpec, 'metric'>,
  usable: SamplerState['observations'],
): Gp {
  const x = usable.map((o) => encodePoint(space, o.point));
  const y = transformMetric(
    usable.map((o) => o.metric!),
    spec.metric?.goal ?? 'minimize',
  );
  const fitOn = observationSubset(y, HYPERPARAMETER_POINTS);
  const hyper = fitHyperparameters(
    fitOn.map((i) => x[i]!),
    fitOn.map((i) => y[i]!),
  );
  const conditionOn = observationSubset(y, GP_POINTS);
  return Gp.fit(
    conditionOn.map((i) => x[i]!),
    conditionOn.map((i) => y[i]!),
    hyper.lengthScales,
    hyper.noise,
  );
}

/**
 * Which observations a fit uses when there are more than `size`: the best
 * half of `size` (where the search now looks) and an even spread of the
 * rest; all of them otherwise. Hyperparameters are fitted on at most
 * HYPERPARAMETER_POINTS, since the fit evaluates the likelihood dozens of
 * times at O(n³) each; the GP the proposals condition on keeps at most
 * GP_POINTS, since it is factored once per proposal at O(n³) (about 1.3 s
 * at 1,000 observations, 6 s at 2,000 on a 2-CPU machine). A proposal runs
 * inside a heartbeating control activity, which must get the event loop
 * back well within its heartbeat timeout, whatever the size of the sweep.
 */
export function observationSubset(y: readonly number[], size: number): number[] {
  const n = y.length;
  if (n <= size) return y.map((_, i) => i);
  const byValue = y.map((_, i) => i).sort((a, b) => y[a]! - y[b]! || a - b);
  const best = byValue.slice(0, Math.floor(size / 2));
  const rest = byValue.slice(best.length).sort((a, b) => a - b);
  const spread = size - best.length;
  const picked = Array.from({ length: spread }, (_, k) => rest[Math.floor((k * rest.length) / spread)]!);
  return [...best, ...picked].sort((a, b) => a - b);
}

/** Metric values as the GP models them: minimised, log10 for wide positive ranges, standardised. */
export function transformMetric(values: readonly number[], goal: 'minimize' | 'maximize'): number[] {
  const positive = values.every((v) => v > 0);
  const wide = positive && Math.max(...values) / Math.min(...values) >= 10;
  const warped = values.map((v) => (goal === 'maximize' ? -1 : 1) * (wide ? Math.log10(v) : v));
  const mean = warped.reduce((s, v) => s + v, 0) / warped.length;
  const sd = Math.sqrt(warped.reduce((s, v) => s + (v - mean) ** 2, 0) / warped.length);
  return warped.map((v) => (v - mean) / (sd > 1e-12 ? sd : 1));
}

/** The candidate with the largest expected improvement over the best (believed) value, not yet taken. */
function bestCandidate(
  space: SearchSpace,
  gp: Gp,
  seed: number,
  index: number,
  taken: TakenPoints,
): number[] {
  const fresh = candidatesFor(space, gp, seed, index, taken);
  if (fresh.length === 0) return designPoint(space, seed, index, 0, taken);
  return space.dims.length > 0 ? fresh[maxExpectedImprovement(gp, fresh)]! : [];
}

/** Trial `index`'s candidates: seeded uniform points and perturbations of the best ones, snapped, none taken. */
export function candidatesFor(
  space: SearchSpace,
  gp: Gp,
  seed: number,
  index: number,
  taken: TakenPoints,
): number[][] {
  const rand = streamFor(seed, index, 'bayes-candidates');
  const candidates: number[][] = [];
  for (let i = 0; i < CANDIDATES; i++) candidates.push(space.dims.map(() => rand()));
  const order = gp.y.map((_, i) => i).sort((a, b) => gp.y[a]! - gp.y[b]! || a - b);
  for (const i of order.slice(0, LOCAL_CENTRES)) {
    for (let j = 0; j < LOCAL_CANDIDATES; j++) {
      const width = j % 2 === 0 ? 0.03 : 0.12;
      candidates.push(gp.x[i]!.map((v) => v + width * gaussian(rand)));
    }
  }
  return candidates.map((c) => snap(space, c)).filter((c) => !taken.has(c));
}

/**
 * Index of the point with the largest expected improvement (the first, on a
 * tie), the same as scoring every point exactly. The exact variance costs a
 * forward solve over all n observations (O(n²)); the mean costs O(n). So
 * every point is first bounded with its exact mean and an upper bound on its
 * standard deviation from its few most correlated observations (EI grows
 * with σ), and exact variances are computed from the highest bound down,
 * only while a bound can still beat the best exact value: on a sweep of a
 * thousand trials most candidates lie where the search has long settled.
 */
export function maxExpectedImprovement(gp: Gp, points: readonly number[][], prune = true): number {
  const best = Math.min(...gp.y);
  const screened = points.map((p, i) => {
    const k = gp.covariances(p);
    const mean = gp.meanFrom(k);
    return { i, k, mean, bound: prune ? expectedImprovement(best, mean, gp.sdUpperBound(k)) : 0 };
  });
  if (prune) screened.sort((a, b) => b.bound - a.bound || a.i - b.i);
  let top = -1;
  let topValue = Number.NEGATIVE_INFINITY;
  for (const s of screened) {
    if (prune && s.bound < topValue) break;
    const ei = expectedImprovement(best, s.mean, gp.sdFrom(s.k));
    if (ei > topValue || (ei === topValue && s.i < top)) {
      topValue = ei;
      top = s.i;
    }
  }
  return Math.max(top, 0);
}

export function expectedImprovement(best: number, mean: number, sd: number): number {
  if (sd < 1e-12) return Math.max(0, best - mean);
  const z = (best - mean) / sd;
  return (best - mean) * normalCdf(z) + sd * Math.exp(-0.5 * z * z) * INV_SQRT_2PI;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export function normalCdf(z: number): number {
  return 0.5 * (1 + erf(z / Math.SQRT2));
}

/** Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const r = 1 - poly * Math.exp(-x * x);
  return x >= 0 ? r : -r;
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export function matern52(
  a: readonly number[],
  b: readonly number[],
  lengthScales: readonly number[],
): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += ((a[d]! - b[d]!) / lengthScales[d]!) ** 2;
  const r = Math.sqrt(5 * s);
  return (1 + r + (r * r) / 3) * Math.exp(-r);
}

export interface Hyperparameters {
  lengthScales: number[];
  noise: number;
  logLikelihood: number;
}

/** Maximise the (penalised) log marginal likelihood: isotropic grid, then per-dimension coordinate search. */
export function fitHyperparameters(x: readonly number[][], y: readonly number[]): Hyperparameters {
  const dims = x[0]?.length ?? 0;
  const score = (lengthScales: number[], noise: number): Hyperparameters => ({
    lengthScales,
    noise,
    logLikelihood: logMarginalLikelihood(x, y, lengthScales, noise) + logPrior(lengthScales),
  });
  const grid: Hyperparameters[] = [];
  for (const ell of ISO_SCALES) for (const noise of NOISES) grid.push(score(Array(dims).fill(ell), noise));
  grid.sort((a, b) => b.logLikelihood - a.logLikelihood);
  let best = grid[0]!;
  for (const start of grid.slice(0, 2)) {
    let current = start;
    for (let pass = 0; pass < 3; pass++) {
      const before = current.logLikelihood;
      for (let d = 0; d <= dims; d++) {
        for (const factor of [0.5, 2, 0.8, 1.25]) {
          for (let step = 0; step < 4; step++) {
            const trial =
              d < dims
                ? scaleAt(current, d, factor)
                : { ...current, noise: clamp(current.noise * factor ** 2, NOISE_BOUNDS) };
            if (!trial) break;
            const next = score(trial.lengthScales, trial.noise);
            if (!(next.logLikelihood > current.logLikelihood + 1e-6)) break;
            current = next;
          }
        }
      }
      if (current.logLikelihood <= before + 1e-4) break;
    }
    if (current.logLikelihood > best.logLikelihood) best = current;
  }
  return best;
}

function scaleAt(
  h: Hyperparameters,
  d: number,
  factor: number,
): Pick<Hyperparameters, 'lengthScales' | 'noise'> | null {
  const next = h.lengthScales[d]! * factor;
  if (next < SCALE_BOUNDS[0] || next > SCALE_BOUNDS[1]) return null;
  return { lengthScales: h.lengthScales.map((l, i) => (i === d ? next : l)), noise: h.noise };
}

function clamp(v: number, [lo, hi]: readonly [number, number]): number {
  return Math.min(hi, Math.max(lo, v));
}

function logPrior(lengthScales: readonly number[]): number {
  return lengthScales.reduce((s, l) => s - 0.5 * ((Math.log(l) - PRIOR_LOG_SCALE) / PRIOR_LOG_SD) ** 2, 0);
}

/** log p(y | X, θ) for a zero-mean GP with a unit-variance Matérn 5/2 kernel; −∞ if the kernel does not factor. */
export function logMarginalLikelihood(
  x: readonly number[][],
  y: readonly number[],
  lengthScales: readonly number[],
  noise: number,
): number {
  const chol = factor(kernelMatrix(x, lengthScales, noise));
  if (!chol) return Number.NEGATIVE_INFINITY;
  const alpha = chol.solve(Matrix.columnVector([...y]));
  let fit = 0;
  y.forEach((v, i) => {
    fit += v * alpha.get(i, 0);
  });
  const l = chol.lowerTriangularMatrix;
  let logDet = 0;
  for (let i = 0; i < y.length; i++) logDet += Math.log(l.get(i, i));
  return -0.5 * fit - logDet - 0.5 * y.length * Math.log(2 * Math.PI);
}

function kernelMatrix(x: readonly number[][], lengthScales: readonly number[], noise: number): Matrix {
  const n = x.length;
  const k = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    k.set(i, i, 1 + noise);
    for (let j = 0; j < i; j++) {
      const v = matern52(x[i]!, x[j]!, lengthScales);
      k.set(i, j, v);
      k.set(j, i, v);
    }
  }
  return k;
}

function factor(k: Matrix): CholeskyDecomposition | null {
  for (const jitter of [0, 1e-8, 1e-6, MAX_JITTER]) {
    const m = k.clone();
    for (let i = 0; i < k.rows; i++) m.set(i, i, k.get(i, i) + jitter);
    const chol = new CholeskyDecomposition(m);
    if (chol.isPositiveDefinite()) return chol;
  }
  return null;
}

/**
 * A GP posterior with fixed hyperparameters; `with` adds one observation,
 * `believe` one at its predicted mean. The lower Cholesky factor is kept
 * and extended by one row per added point (O(n²) rather than refactoring
 * at O(n³)); a mean costs O(n) and a variance one forward substitution
 * (maxExpectedImprovement computes few of those).
 */
export class Gp {
  private constructor(
    readonly x: readonly number[][],
    readonly y: readonly number[],
    readonly lengthScales: readonly number[],
    readonly noise: number,
    /** Rows of the lower Cholesky factor L of K + noise·I (row i has i + 1 entries). */
    private readonly l: readonly Float64Array[],
    /** K⁻¹ y. */
    private readonly alpha: Float64Array,
  ) {}

  static fit(
    x: readonly number[][],
    y: readonly number[],
    lengthScales: readonly number[],
    noise: number,
  ): Gp {
    const chol = factor(kernelMatrix(x, lengthScales, noise));
    if (!chol) throw new Error('GP kernel matrix is not positive definite even with jitter');
    const full = chol.lowerTriangularMatrix.to2DArray();
    const l = full.map((row, i) => Float64Array.from(row.slice(0, i + 1)));
    return new Gp(x, y, lengthScales, noise, l, solveFactored(l, y));
  }

  with(u: number[], value: number): Gp {
    const l = this.extendedFactor(forwardSolve(this.l, this.covariances(u)));
    const y = [...this.y, value];
    return new Gp([...this.x, u], y, this.lengthScales, this.noise, l, solveFactored(l, y));
  }

  /**
   * `with(u, mean at u)`, the Kriging believer's step, in one forward solve
   * instead of four passes: a point observed at its predicted mean leaves
   * the posterior mean where it was, so K⁻¹y keeps its entries and gains a
   * zero ([K k; kᵀ κ]·[α; 0] = [y; kᵀα]). Believing the pending trials of
   * a wide sweep is the proposal's costliest part otherwise.
   */
  believe(u: number[]): Gp {
    const k = this.covariances(u);
    const l = this.extendedFactor(forwardSolve(this.l, k));
    const alpha = new Float64Array(this.alpha.length + 1);
    alpha.set(this.alpha);
    return new Gp([...this.x, u], [...this.y, this.meanFrom(k)], this.lengthScales, this.noise, l, alpha);
  }

  /** The factor with a new point's row appended, given row = L⁻¹k(X, u) for that point u. */
  private extendedFactor(row: Float64Array): Float64Array[] {
    let used = 0;
    for (const v of row) used += v * v;
    // Rounding can leave a repeated point with nothing left on the diagonal: the smallest jitter factor() tries.
    const diagonal = Math.sqrt(Math.max(1e-8, 1 + this.noise - used));
    const extended = new Float64Array(row.length + 1);
    extended.set(row);
    extended[row.length] = diagonal;
    return [...this.l, extended];
  }

  /** Posterior mean and standard deviation (of the latent function) at each point. */
  predict(points: readonly number[][]): { mean: number[]; sd: number[] } {
    const mean: number[] = [];
    const sd: number[] = [];
    for (const p of points) {
      const k = this.covariances(p);
      mean.push(this.meanFrom(k));
      sd.push(this.sdFrom(k));
    }
    return { mean, sd };
  }

  /** Prior covariance of a point with every observation. */
  covariances(p: readonly number[]): number[] {
    return this.x.map((xi) => matern52(xi, p, this.lengthScales));
  }

  meanFrom(k: readonly number[]): number {
    let m = 0;
    k.forEach((v, i) => {
      m += v * this.alpha[i]!;
    });
    return m;
  }

  /** Exact posterior standard deviation: one forward solve, O(n²). */
  sdFrom(k: readonly number[]): number {
    const v = forwardSolve(this.l, k);
    let reduction = 0;
    for (const w of v) reduction += w * w;
    return Math.sqrt(Math.max(1e-12, 1 - reduction));
  }

  /**
   * An upper bound on sdFrom(k), in O(n + m³): the posterior given only the
   * m observations most correlated with the point. Conditioning on fewer
   * observations never lowers a Gaussian's variance; the bound takes the
   * largest jitter factor() may have added as noise, and a relative margin
   * for rounding, so it holds for the factor in use too.
   */
  sdUpperBound(k: readonly number[]): number {
    const near = mostCorrelated(k, BOUND_NEIGHBOURS);
    const m = near.length;
    const rows: Float64Array[] = [];
    for (let a = 0; a < m; a++) {
      const row = new Float64Array(a + 1);
      for (let b = 0; b < a; b++) row[b] = matern52(this.x[near[a]!]!, this.x[near[b]!]!, this.lengthScales);
      row[a] = 1 + this.noise + MAX_JITTER;
      rows.push(row);
    }
    const l = choleskyRows(rows);
    if (!l) return 1;
    const v = forwardSolve(
      l,
      near.map((j) => k[j]!),
    );
    let reduction = 0;
    for (const w of v) reduction += w * w;
    return Math.min(1, Math.sqrt(Math.max(1e-12, 1 - reduction)) * (1 + 1e-6) + 1e-9);
  }
}

/** Indices of the m largest entries of k, largest first. */
function mostCorrelated(k: readonly number[], m: number): number[] {
  const top: number[] = [];
  k.forEach((v, i) => {
    if (top.length === m && v <= k[top[m - 1]!]!) return;
    let at = top.length === m ? m - 1 : top.length;
    while (at > 0 && k[top[at - 1]!]! < v) at--;
    top.splice(at, 0, i);
    if (top.length > m) top.pop();
  });
  return top;
}

/** Lower Cholesky factor of a small symmetric matrix given by its lower rows (in place); null if not positive definite. */
function choleskyRows(rows: Float64Array[]): Float64Array[] | null {
  for (let i = 0; i < rows.length; i++) {
    const ri = rows[i]!;
    for (let j = 0; j <= i; j++) {
      const rj = rows[j]!;
      let s = ri[j]!;
      for (let t = 0; t < j; t++) s -= ri[t]! * rj[t]!;
      if (i === j) {
        if (!(s > 0)) return null;
        ri[i] = Math.sqrt(s);
      } else {
        ri[j] = s / rj[j]!;
      }
    }
  }
  return rows;
}

/** (L Lᵀ)⁻¹ b: forward, then backward substitution. */
function solveFactored(l: readonly Float64Array[], b: readonly number[]): Float64Array {
  const z = forwardSolve(l, b);
  const n = z.length;
  const out = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k]![i]! * out[k]!;
    out[i] = s / l[i]![i]!;
  }
  return out;
}
