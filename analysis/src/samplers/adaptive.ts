import { type AdaptiveOptions, adaptiveOptionsSchema, type SweepSpec, streamFor } from '@grokmap/workflows';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { denormalise } from '../axes.js';
import {
  fitPhaseMap,
  type PhaseMapModel,
  type PhasePoint,
  phaseMapKernel,
  predictPhaseMap,
} from '../phase-map.js';
import { PHASES, type Phase } from '../types.js';
import { nearestOfOtherClass } from './nearest.js';
import {
  distance2,
  encodePoint,
  latinHypercube,
  pointAt,
  type SearchSpace,
  searchSpace,
  snap,
  TakenPoints,
} from './space.js';
import { forwardSolve } from './triangular.js';
import type { MapSummary, SamplerPoint, SamplerState } from './types.js';

/**
 * `method: adaptive`: active mapping of phase boundaries.
 *
 * 1. A space-filling design (the most spread of a few seeded Latin
 *    hypercubes) over the numeric parameters; seeds are cycled (space.ts).
 * 2. Then, each round (rounds.ts: `batch` trials, once the trials it is
 *    to see have finished), the phase map (phase-map.ts) is fitted to every
 *    classified trial it sees and the next trials go where they are
 *    expected to fix the most wrongly labelled places.
 *    Candidates are jittered dense-grid points and the midpoints between
 *    trials of different phases, snapped to values the parameters can take
 *    (so on a grid of values they are its cells), never a taken point. A
 *    place's ambiguity is the chance its most probable label is wrong
 *    (1 − p_max; for a boundary [A, B], 2·min(p_A, p_B), so only that
 *    boundary counts). A candidate's gain sums the squared ambiguity of
 *    every candidate place weighted by the share of its GP variance
 *    observing the candidate would explain: an integrated, level-set-style
 *    criterion (Gotovos et al. 2013). The pointwise straddle (Bryan et al.
 *    2005) it replaces let the σ of a phase indicator's unit-variance GP
 *    draw trials to far, settled corners; in the sampling bench this needs
 *    fewer trials on the synthetic map and about as many on the published
 *    grids.
 *    Within a batch, each pick — and every pending trial — is conditioned
 *    on as if observed (the GP covariance does not depend on outcomes), so
 *    a batch spreads along the boundary instead of piling up at one place.
 * 3. Each time `batch` new classified trials have arrived, the map's most
 *    probable phase on a dense grid is compared with the previous round's:
 *    once the share of changed cells stays at or below
 *    stop_when.max_change for stop_when.patience rounds, the sampler has
 *    converged and proposes nothing more.
 */

/**
 * Candidates scored (and places counted) per proposal, the most ambiguous:
 * bounds the O(m²) covariance. A wide batch scores twice its size, so a
 * fleet of more GPUs than this still gets a full batch.
 */
const MAX_SCORED = 400;
/** Dense grid: about this many cells in all, for the change test. */
const DENSE_CELLS = 1024;
/** Candidates: one random point per dense cell, plus this many uniform ones. */
const EXTRA_CANDIDATES = 256;
const DESIGN_TRIES = 16;
/** Neighbours of another phase whose midpoints become candidates. */
const NEIGHBOURS = 3;
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

/**
 * Up to `n` new points (one round: suggest.ts says when it is due), and
 * the state with any new round recorded. Yields after each pick, so a
 * caller on an event loop can let timers run between them (suggest.ts): a
 * batch of 1,000 takes tens of seconds.
 */
export function* adaptiveProposalSteps(
  spec: Pick<SweepSpec, 'parameters' | 'seed' | 'adaptive' | 'budget'>,
  state: SamplerState,
  n: number,
): Generator<void, AdaptiveProposal, void> {
  const space = searchSpace(spec, { numericOnly: true });
  const axes = space.dims.map((d) => d.axis!);
  const settings = adaptiveSettings(spec, axes.length);
  const points: SamplerPoint[] = [];
  let index = state.nextIndex;
  const taken = new TakenPoints(
    [...state.observations, ...state.pending].map((o) => encodePoint(space, o.point)),
  );
  // 1. The space-filling design, whatever has been observed.
  const design = index < settings.initial ? spreadDesign(space, spec.seed, settings.initial) : [];
  while (points.length < n && index < settings.initial) {
    const u = fresh(space, design[index]!, taken, spec.seed, index);
    taken.add(u);
    points.push(pointAt(space, u, index, spec.seed));
    index++;
  }
  // suggest.ts proposes one round at a time, only once it is due (rounds.ts).
  const room = n - points.length;
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
  // Each stage below takes seconds on a sweep of 100,000 trials: give the event loop back between them.
  yield;
  let next = state;
  if (roundDue(state, classified.length, settings)) {
    next = recordRound(state, model, classified.length, settings);
    if (next.converged) return { points, state: next };
  }
  if (room <= 0) return { points, state: next };
  // 3. Greedy expected reduction of misclassification, conditioning on each pick (and every pending trial).
  const rand = streamFor(spec.seed, index, 'adaptive');
  // Distinct, or a cell could be picked twice in one batch once little else is left.
  const candidates = distinct([
    ...candidatePoints(space, axes.length, rand),
    ...boundaryMidpoints(space, classified),
  ]).filter((c) => !taken.has(c));
  if (candidates.length === 0) return { points, state: next };
  yield;
  const raw = candidates.map((c) => c.map((v, d) => denormalise(axes[d]!, v)));
  const doubt = predictPhaseMap(model, raw).map((cell) =>
    ambiguity(
      PHASES.map((p) => cell.probs[p]),
      settings.options.target,
    ),
  );
  yield;
  // Only the most ambiguous candidates are worth scoring or counting: the rest are settled.
  const order = candidates
    .map((_, i) => i)
    .sort((i, j) => doubt[j]! - doubt[i]! || i - j)
    .slice(0, Math.max(MAX_SCORED, 2 * room));
  const scored = order.map((i) => candidates[i]!);
  const conditioned = [
    ...state.pending.map((p) => encodePoint(space, p.point)),
    ...points.map((p) => encodePoint(space, p)),
  ];
  const covariance = new PosteriorCovariance(model, [...scored, ...conditioned]);
  for (let k = 0; k < conditioned.length; k++) covariance.condition(scored.length + k);
  // Squared, so nearly settled places count for little and a batch goes to the most doubtful ones
  // (in the sampling bench: fewer trials to a 95% map than the plain ambiguity or the pointwise straddle).
  const weights = order.map((i) => doubt[i]! ** 2);
  const chosen = new Set<number>();
  for (let k = 0; k < room; k++) {
    let top = -1;
    let topGain = Number.NEGATIVE_INFINITY;
    scored.forEach((_, i) => {
      if (chosen.has(i)) return;
      const g = covariance.gain(i, weights);
      if (g > topGain) {
        topGain = g;
        top = i;
      }
    });
    if (top < 0) break;
    chosen.add(top);
    covariance.condition(top);
    points.push(pointAt(space, scored[top]!, index, spec.seed));
    index++;
    yield;
  }
  return { points, state: next };
}

function roundDue(state: SamplerState, classified: number, settings: AdaptiveSettings): boolean {
  if (classified === 0) return false;
  if (!state.lastMap) return classified >= Math.min(settings.initial, settings.batch);
  return classified - state.lastMap.observed >= settings.batch;
}

/**
 * How likely a place's most probable label is wrong, in [0, 1]. For
 * `target: phase`, 1 − p_max. For a boundary [A, B], 2·min(p_A, p_B): high
 * only where both phases are likely and about equally so.
 */
export function ambiguity(p: readonly number[], target: AdaptiveOptions['target']): number {
  if (target === 'phase') return 1 - Math.max(...p);
  const a = p[PHASES.indexOf(target.boundary[0])]!;
  const b = p[PHASES.indexOf(target.boundary[1])]!;
  return 2 * Math.min(a, b);
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
  return out;
}

function distinct(points: readonly number[][]): number[][] {
  const seen = new Set<string>();
  return points.filter((u) => {
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
  const nearest = nearestOfOtherClass(
    us,
    classified.map((o) => o.phase),
    NEIGHBOURS,
  );
  return us.flatMap((u, i) =>
    nearest[i]!.map((j) =>
      snap(
        space,
        u.map((v, d) => (v + us[j]![d]!) / 2),
      ),
    ),
  );
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
function fresh(space: SearchSpace, u: number[], taken: TakenPoints, seed: number, index: number): number[] {
  if (!taken.has(u)) return u;
  const rand = streamFor(seed, index, 'adaptive-fresh');
  for (let tries = 0; tries < 100; tries++) {
    const v = snap(
      space,
      u.map(() => rand()),
    );
    if (!taken.has(v)) return v;
  }
  return u;
}

/**
 * Posterior covariance of the phase map's GP over a fixed set of points,
 * conditioned in turn on some of them as if observed. The covariance needs
 * no outcomes, so conditioning on point a is a rank-one downdate:
 *   C(x, y) ← C(x, y) − C(x, a) C(a, y) / (C(a, a) + noise).
 * The gain of observing point i is the ambiguity it is expected to remove,
 *   Σ_j w_j · C(i, j)² / ((C(i, i) + noise) · C(j, j)),
 * each place j's weight w_j (its squared ambiguity) scaled by the share of its variance
 * observing i explains (itself included). Places near an earlier pick have
 * little variance left to explain, which spreads a batch out.
 */
class PosteriorCovariance {
  private readonly c: Float64Array[];
  private readonly noise: number;

  constructor(model: PhaseMapModel, points: readonly number[][]) {
    const kernel = phaseMapKernel(model.lengthScales);
    const m = points.length;
    this.noise = model.noise;
    this.c = points.map((a) => Float64Array.from(points, (b) => kernel(a, b)));
    const n = model.inputs.length;
    if (n === 0 || m === 0) return;
    const k = new Matrix(n, n);
    for (let i = 0; i < n; i++) {
      k.set(i, i, 1 + model.noise + 1e-8);
      for (let j = 0; j < i; j++) {
        const v = kernel(model.inputs[i]!, model.inputs[j]!);
        k.set(i, j, v);
        k.set(j, i, v);
      }
    }
    const chol = new CholeskyDecomposition(k);
    if (!chol.isPositiveDefinite()) return;
    // C₀ = K_PP − K_Pᵀ K⁻¹ K_P = K_PP − Wᵀ W with W = L⁻¹ K_P.
    const l = chol.lowerTriangularMatrix.to2DArray();
    const cols = points.map((p) =>
      forwardSolve(
        l,
        Float64Array.from(model.inputs, (x) => kernel(x, p)),
      ),
    );
    for (let a = 0; a < m; a++) {
      const ca = cols[a]!;
      for (let b = 0; b <= a; b++) {
        const cb = cols[b]!;
        let s = 0;
        for (let i = 0; i < n; i++) s += ca[i]! * cb[i]!;
        this.c[a]![b]! -= s;
        if (b !== a) this.c[b]![a]! -= s;
      }
    }
  }

  /** Condition on an observation at point `a` (noise as for one seed). */
  condition(a: number): void {
    const ca = Float64Array.from(this.c[a]!);
    const s = Math.max(1e-12, ca[a]!) + this.noise;
    this.c.forEach((row, x) => {
      const f = ca[x]! / s;
      for (let y = 0; y < row.length; y++) row[y]! -= f * ca[y]!;
    });
  }

  /** Expected ambiguity removed by observing point `i`, over the first `weights.length` points. */
  gain(i: number, weights: readonly number[]): number {
    const row = this.c[i]!;
    const s = Math.max(1e-12, row[i]!) + this.noise;
    let g = 0;
    for (let j = 0; j < weights.length; j++) {
      const cjj = this.c[j]![j]!;
      if (cjj > 1e-12) g += (weights[j]! * row[j]! ** 2) / cjj;
    }
    return g / s;
  }
}
