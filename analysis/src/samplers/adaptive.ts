import { type AdaptiveOptions, adaptiveOptionsSchema, type SweepSpec, streamFor } from '@grokmap/workflows';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { denormalise } from '../axes.js';
import { fitPhaseMap, type PhaseMapModel, type PhasePoint, predictPhaseMap } from '../phase-map.js';
import { PHASES, type Phase } from '../types.js';
import {
  distance2,
  encodePoint,
  latinHypercube,
  pointAt,
  type SearchSpace,
  searchSpace,
  snap,
} from './space.js';
import type { MapSummary, SamplerPoint, SamplerState } from './types.js';

/**
 * `method: adaptive`: active mapping of phase boundaries.
 *
 * 1. A space-filling design (the most spread of a few seeded Latin
 *    hypercubes) over the numeric parameters; seeds are cycled (space.ts).
 * 2. Then, whenever fewer than `batch` trials are pending, the phase map
 *    (phase-map.ts) is fitted to every classified trial and the next trials
 *    go where the boundary is least certain, among jittered dense-grid
 *    points and the midpoints between trials of different phases, by the straddle heuristic
 *    (Bryan et al. 2005) on the map's GP: score = κσ − |μ − ½|. For a
 *    boundary [A, B], μ = p_A / (p_A + p_B), minus a penalty (1 − p_A − p_B)/2
 *    where neither phase is likely; for `target: phase`, μ is the same
 *    ratio for the two most probable phases (so every boundary counts).
 *    σ is the GP's posterior standard deviation (indicator scale, each
 *    observation's noise taken at one seed). Within a batch, each chosen
 *    point — and every pending trial — lowers σ around it as if already
 *    observed (the GP variance does not depend on outcomes), so a batch
 *    spreads along the boundary instead of piling up at one place.
 * 3. Each time `batch` new classified trials have arrived, the map's most
 *    probable phase on a dense grid is compared with the previous round's:
 *    once the share of changed cells stays at or below
 *    stop_when.max_change for stop_when.patience rounds, the sampler has
 *    converged and proposes nothing more.
 */

/**
 * The straddle's 1.96, halved: a phase indicator's GP has unit prior
 * variance, while a probability's distance from ½ is at most ½.
 */
const KAPPA = 0.98;
/** Dense grid: about this many cells in all, for the change test. */
const DENSE_CELLS = 1024;
/** Candidates: one random point per dense cell, plus this many uniform ones. */
const EXTRA_CANDIDATES = 256;
const DESIGN_TRIES = 16;
/** Neighbours of another phase whose midpoints become candidates. */
const NEIGHBOURS = 3;
const SAME_POINT = 1e-12;
const PHASE_CODES: Record<Phase, string> = {
  comprehension: 'c',
  grokking: 'g',
  memorization: 'm',
  confusion: 'x',
};

export interface AdaptiveSettings {
  options: AdaptiveOptions;
  batch: number;
  initial: number;
}

export function adaptiveSettings(
  spec: Pick<SweepSpec, 'adaptive' | 'budget'>,
  dims: number,
): AdaptiveSettings {
  const options = spec.adaptive ?? adaptiveOptionsSchema.parse({});
  const batch = options.batch ?? spec.budget.parallel;
  return { options, batch, initial: options.initial ?? Math.max(2 * batch, 4 * dims, 8) };
}

export interface AdaptiveProposal {
  points: SamplerPoint[];
  state: SamplerState;
}

/** Up to `n` new points (fewer while a batch is pending), and the state with any new round recorded. */
export function proposeAdaptive(
  spec: Pick<SweepSpec, 'parameters' | 'seed' | 'adaptive' | 'budget'>,
  state: SamplerState,
  n: number,
): AdaptiveProposal {
  const space = searchSpace(spec, { numericOnly: true });
  const axes = space.dims.map((d) => d.axis!);
  const settings = adaptiveSettings(spec, axes.length);
  const points: SamplerPoint[] = [];
  let index = state.nextIndex;
  const taken = [...state.observations, ...state.pending].map((o) => encodePoint(space, o.point));
  // 1. The space-filling design, whatever has been observed.
  const design = index < settings.initial ? spreadDesign(space, spec.seed, settings.initial) : [];
  while (points.length < n && index < settings.initial) {
    const u = fresh(space, design[index]!, taken, spec.seed, index);
    taken.push(u);
    points.push(pointAt(space, u, index, spec.seed));
    index++;
  }
  const room = Math.min(n - points.length, settings.batch - state.pending.length - points.length);
  const classified = state.observations.filter((o) => o.phase !== null);
  if (axes.length === 0 || (room <= 0 && !roundDue(state, classified.length, settings))) {
    return { points, state };
  }
  // 2. Fit the map; a new round when a batch's worth of trials arrived since the last one.
  const phasePoints: PhasePoint[] = classified.map((o) => ({
    x: axes.map((a) => Number(o.point[a.name])),
    phase: o.phase!,
  }));
  const model = fitPhaseMap(phasePoints, axes);
  let next = state;
  if (roundDue(state, classified.length, settings)) {
    next = recordRound(state, model, classified.length, settings);
    if (next.converged) return { points, state: next };
  }
  if (room <= 0) return { points, state: next };
  // 3. Straddle on candidates, lowering σ around each chosen (and pending) point.
  const rand = streamFor(spec.seed, index, 'adaptive');
  const candidates = [
    ...candidatePoints(space, axes.length, rand),
    ...boundaryMidpoints(space, classified),
  ].filter((c) => !taken.some((t) => distance2(t, c) < SAME_POINT));
  if (candidates.length === 0) return { points, state: next };
  const raw = candidates.map((c) => c.map((v, d) => denormalise(axes[d]!, v)));
  const probs = predictPhaseMap(model, raw).map((cell) => PHASES.map((p) => cell.probs[p]));
  const variance = new PosteriorVariance(model, candidates);
  for (const p of state.pending) variance.condition(encodePoint(space, p.point));
  for (const u of points.map((p) => encodePoint(space, p))) variance.condition(u);
  const chosen = new Set<number>();
  for (let k = 0; k < room; k++) {
    let top = -1;
    let topScore = Number.NEGATIVE_INFINITY;
    candidates.forEach((_, i) => {
      if (chosen.has(i)) return;
      const s = straddle(probs[i]!, Math.sqrt(variance.at(i)), settings.options.target);
      if (s > topScore) {
        topScore = s;
        top = i;
      }
    });
    if (top < 0) break;
    chosen.add(top);
    const u = candidates[top]!;
    variance.condition(u);
    points.push(pointAt(space, u, index, spec.seed));
    index++;
  }
  return { points, state: next };
}

function roundDue(state: SamplerState, classified: number, settings: AdaptiveSettings): boolean {
  if (classified === 0) return false;
  if (!state.lastMap) return classified >= Math.min(settings.initial, settings.batch);
  return classified - state.lastMap.observed >= settings.batch;
}

/** The straddle score of one candidate (larger: more worth sampling). */
export function straddle(p: readonly number[], sd: number, target: AdaptiveOptions['target']): number {
  let a: number;
  let b: number;
  let penalty = 0;
  if (target === 'phase') {
    const sorted = [...p].sort((x, y) => y - x);
    a = sorted[0]!;
    b = sorted[1]!;
  } else {
    a = p[PHASES.indexOf(target.boundary[0])]!;
    b = p[PHASES.indexOf(target.boundary[1])]!;
    penalty = (1 - a - b) / 2;
  }
  const mu = a + b > 0 ? a / (a + b) : 0.5;
  return KAPPA * sd - Math.abs(mu - 0.5) - penalty;
}

/** Record a round: the dense map's summary, its change from the last, and convergence. */
function recordRound(
  state: SamplerState,
  model: PhaseMapModel,
  observed: number,
  settings: AdaptiveSettings,
): SamplerState {
  const cells = denseSummary(model);
  const last = state.lastMap;
  const change = last && last.cells.length === cells.length ? changedShare(last.cells, cells) : 1;
  const stop = settings.options.stop_when;
  const settled = change <= stop.max_change ? (last?.settled ?? 0) + 1 : 0;
  const round = state.round + 1;
  const lastMap: MapSummary = { round, observed, cells, change, settled };
  return { ...state, round, lastMap, ...(settled >= stop.patience ? { converged: true } : {}) };
}

/** One character per cell of the dense grid: the most probable phase. */
export function denseSummary(model: PhaseMapModel): string {
  const res = denseResolution(model.axes.length);
  let grid: number[][] = [[]];
  for (const axis of model.axes) {
    const values = Array.from({ length: res }, (_, i) => denormalise(axis, (i + 0.5) / res));
    grid = grid.flatMap((prefix) => values.map((v) => [...prefix, v]));
  }
  return predictPhaseMap(model, grid)
    .map((c) => PHASE_CODES[c.phase])
    .join('');
}

export function changedShare(a: string, b: string): number {
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
  return a.length > 0 ? changed / a.length : 0;
}

function denseResolution(dims: number): number {
  return Math.max(2, Math.floor(DENSE_CELLS ** (1 / Math.max(1, dims))));
}

/** One jittered point per dense cell plus uniform points, snapped to the parameters' values. */
function candidatePoints(space: SearchSpace, dims: number, rand: () => number): number[][] {
  const res = denseResolution(dims);
  let cells: number[][] = [[]];
  for (let d = 0; d < dims; d++) {
    cells = cells.flatMap((prefix) => Array.from({ length: res }, (_, i) => [...prefix, i]));
  }
  const out = cells.map((cell) =>
    snap(
      space,
      cell.map((i) => (i + rand()) / res),
    ),
  );
  for (let i = 0; i < EXTRA_CANDIDATES; i++)
    out.push(
      snap(
        space,
        Array.from({ length: dims }, () => rand()),
      ),
    );
  const seen = new Set<string>();
  return out.filter((u) => {
    const key = u.join(',');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Midpoints between each classified trial and its nearest neighbours of
 * another phase: where bisection would look next for the boundary between them.
 */
function boundaryMidpoints(space: SearchSpace, classified: SamplerState['observations']): number[][] {
  const us = classified.map((o) => encodePoint(space, o.point));
  const out: number[][] = [];
  us.forEach((u, i) => {
    const others = us
      .map((v, j) => ({ j, d: distance2(u, v) }))
      .filter(({ j }) => classified[j]!.phase !== classified[i]!.phase)
      .sort((a, b) => a.d - b.d || a.j - b.j)
      .slice(0, NEIGHBOURS);
    for (const { j } of others)
      out.push(
        snap(
          space,
          u.map((v, d) => (v + us[j]![d]!) / 2),
        ),
      );
  });
  return out;
}

/** The most spread (largest smallest distance) of a few seeded Latin hypercubes. */
function spreadDesign(space: SearchSpace, seed: number, size: number): number[][] {
  const rand = streamFor(seed, 0, 'adaptive-design');
  let best: number[][] = [];
  let bestSpread = -1;
  for (let t = 0; t < DESIGN_TRIES; t++) {
    const design = latinHypercube(size, space.dims.length, rand).map((u) => snap(space, u));
    let spread = Number.POSITIVE_INFINITY;
    for (let i = 0; i < design.length; i++) {
      for (let j = 0; j < i; j++) spread = Math.min(spread, distance2(design[i]!, design[j]!));
    }
    if (spread > bestSpread) {
      bestSpread = spread;
      best = design;
    }
  }
  return best;
}

/** `u`, or a random point if `u` repeats a taken point (possible on small discrete spaces). */
function fresh(space: SearchSpace, u: number[], taken: number[][], seed: number, index: number): number[] {
  if (!taken.some((t) => distance2(t, u) < SAME_POINT)) return u;
  const rand = streamFor(seed, index, 'adaptive-fresh');
  for (let tries = 0; tries < 100; tries++) {
    const v = snap(
      space,
      u.map(() => rand()),
    );
    if (!taken.some((t) => distance2(t, v) < SAME_POINT)) return v;
  }
  return u;
}

/**
 * Posterior variance of the phase map's GP at fixed candidates, updated as
 * points are added. The variance needs no outcomes, so adding a point is a
 * rank-one update: with C₀ the posterior covariance given the model's
 * inputs and a₁ … a_k the added points,
 *   C_k(x, y) = C₀(x, y) − Σ_j v_j(x) v_j(y),
 *   v_j(x) = (C₀(x, a_j) − Σ_{i<j} v_i(x) v_i(a_j)) / s_j,  s_j² = C_{j−1}(a_j, a_j) + noise.
 */
class PosteriorVariance {
  private readonly variance: Float64Array;
  private readonly inv2: number[];
  private readonly inputs: readonly number[][];
  private readonly chol: CholeskyDecomposition | null = null;
  /** k(input i, candidate j) and K⁻¹ times it (inputs × candidates). */
  private readonly kStar: Matrix | null = null;
  private readonly added: {
    u: number[];
    s: number;
    solved: Float64Array | null;
    vAtAdded: number[];
    v: Float64Array;
  }[] = [];

  constructor(
    private readonly model: PhaseMapModel,
    private readonly candidates: number[][],
  ) {
    this.inv2 = model.lengthScales.map((l) => 1 / (2 * l * l));
    this.inputs = model.inputs;
    this.variance = new Float64Array(candidates.length).fill(1);
    const n = this.inputs.length;
    if (n === 0) return;
    const k = new Matrix(n, n);
    for (let i = 0; i < n; i++) {
      k.set(i, i, 1 + model.noise + 1e-8);
      for (let j = 0; j < i; j++) {
        const v = this.kernel(this.inputs[i]!, this.inputs[j]!);
        k.set(i, j, v);
        k.set(j, i, v);
      }
    }
    const chol = new CholeskyDecomposition(k);
    if (!chol.isPositiveDefinite()) return;
    const kStar = new Matrix(n, candidates.length);
    candidates.forEach((c, j) => {
      for (let i = 0; i < n; i++) kStar.set(i, j, this.kernel(this.inputs[i]!, c));
    });
    const solved = chol.solve(kStar);
    candidates.forEach((_, j) => {
      let r = 0;
      for (let i = 0; i < n; i++) r += kStar.get(i, j) * solved.get(i, j);
      this.variance[j] = Math.max(1e-9, 1 - r);
    });
    this.chol = chol;
    this.kStar = kStar;
  }

  at(i: number): number {
    return this.variance[i]!;
  }

  /** Condition on an observation at `u` (noise as for one seed). */
  condition(u: number[]): void {
    const solved = this.solveInputs(u);
    const vAtAdded = this.added.map(() => 0);
    // v_i(u) for the points added before, in order.
    this.added.forEach((a, j) => {
      let c = this.c0(u, a.u, a.solved);
      for (let i = 0; i < j; i++) c -= vAtAdded[i]! * a.vAtAdded[i]!;
      vAtAdded[j] = c / a.s;
    });
    let varU = this.c0(u, u, solved);
    for (const v of vAtAdded) varU -= v * v;
    const s = Math.sqrt(Math.max(1e-9, varU) + this.model.noise);
    const m = this.candidates.length;
    const v = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      let c = this.kernel(this.candidates[j]!, u);
      if (solved && this.kStar)
        for (let i = 0; i < solved.length; i++) c -= this.kStar.get(i, j) * solved[i]!;
      for (let i = 0; i < this.added.length; i++) c -= this.added[i]!.v[j]! * vAtAdded[i]!;
      v[j] = c / s;
      this.variance[j] = Math.max(1e-9, this.variance[j]! - v[j]! ** 2);
    }
    this.added.push({ u, s, solved, vAtAdded, v });
  }

  /** K⁻¹ k(inputs, u), or null without inputs. */
  private solveInputs(u: readonly number[]): Float64Array | null {
    if (!this.chol) return null;
    const ku = new Matrix(this.inputs.length, 1);
    this.inputs.forEach((x, i) => {
      ku.set(i, 0, this.kernel(x, u));
    });
    return Float64Array.from(this.chol.solve(ku).getColumn(0));
  }

  /** Posterior covariance given the model's inputs: k(a, b) − k_aᵀ K⁻¹ k_b. */
  private c0(a: readonly number[], b: readonly number[], solvedB: Float64Array | null): number {
    let c = this.kernel(a, b);
    if (solvedB) {
      for (let i = 0; i < this.inputs.length; i++) c -= this.kernel(this.inputs[i]!, a) * solvedB[i]!;
    }
    return c;
  }

  private kernel(a: readonly number[], b: readonly number[]): number {
    let s = 0;
    for (let d = 0; d < a.length; d++) s += (a[d]! - b[d]!) ** 2 * this.inv2[d]!;
    return Math.exp(-s);
  }
}
