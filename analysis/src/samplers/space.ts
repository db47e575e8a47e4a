import {
  type ParameterSpec,
  parameterNames,
  type SweepSpec,
  sampleParameter,
  streamFor,
} from '@grokmap/workflows';
import { axisFor, denormalise, normalise } from '../axes.js';
import type { Axis } from '../types.js';
import type { PointValue, SamplerPoint } from './types.js';

/**
 * The spec's parameters as a model sees them: each searched parameter is
 * one coordinate in [0, 1] (log10 first on log-scale parameters), and
 * `decode` snaps a coordinate back to a value the parameter can take
 * (integers rounded, q_uniform to its step, categoricals to the nearest
 * value). A parameter named `seed` is never a coordinate: trial i takes
 * the i-th of its values in turn, so seeds spread evenly over the search.
 * Constants are fixed. Categoricals that are not numbers are coordinates
 * (ordered by index) for bayes and cycled like seeds for adaptive, whose
 * phase map needs numeric axes.
 */

export interface SpaceDimension {
  name: string;
  /** A numeric axis (phase maps, benchmarks); null for a categorical of non-numbers. */
  axis: Axis | null;
  encode(value: PointValue): number;
  decode(u: number): PointValue;
}

export interface SearchSpace {
  dims: SpaceDimension[];
  /** Parameters that take their values in turn by trial index (seeds). */
  cycled: { name: string; spec: ParameterSpec }[];
  fixed: SamplerPoint;
}

export const SEED_PARAMETER = 'seed';

export function searchSpace(
  spec: Pick<SweepSpec, 'parameters'>,
  options: { numericOnly: boolean },
): SearchSpace {
  const dims: SpaceDimension[] = [];
  const cycled: SearchSpace['cycled'] = [];
  const fixed: SamplerPoint = {};
  for (const name of parameterNames(spec)) {
    const p = spec.parameters[name]!;
    if (p.distribution === 'constant') {
      fixed[name] = p.value as PointValue;
    } else if (name === SEED_PARAMETER) {
      cycled.push({ name, spec: p });
    } else if (p.distribution === 'categorical') {
      const numeric = p.values.every((v) => typeof v === 'number' && Number.isFinite(v));
      if (p.values.length === 1) fixed[name] = p.values[0] as PointValue;
      else if (numeric) dims.push(numericChoice(name, p, p.values as number[]));
      else if (options.numericOnly) cycled.push({ name, spec: p });
      else dims.push(indexChoice(name, p.values as PointValue[]));
    } else {
      dims.push(rangeDimension(name, p));
    }
  }
  return { dims, cycled, fixed };
}

/** The point at coordinates `u` for trial `index` (cycled parameters take their index-th value). */
export function pointAt(space: SearchSpace, u: readonly number[], index: number, seed: number): SamplerPoint {
  const point: SamplerPoint = { ...space.fixed };
  space.dims.forEach((d, i) => {
    point[d.name] = d.decode(u[i]!);
  });
  for (const c of space.cycled) point[c.name] = cycledValue(c.spec, index, seed);
  return point;
}

/** Coordinates of a point (the parameters' values snapped, so encode(decode(u)) is stable). */
export function encodePoint(space: SearchSpace, point: SamplerPoint): number[] {
  return space.dims.map((d) => d.encode(point[d.name]!));
}

/** Snap coordinates to values the parameters can take. */
export function snap(space: SearchSpace, u: readonly number[]): number[] {
  return space.dims.map((d, i) => d.encode(d.decode(u[i]!)));
}

function cycledValue(p: ParameterSpec, index: number, seed: number): PointValue {
  switch (p.distribution) {
    case 'categorical':
      return p.values[index % p.values.length] as PointValue;
    case 'int_uniform':
      return p.min + (index % (p.max - p.min + 1));
    default:
      return sampleParameter(p, streamFor(seed, index, 'cycle')()) as PointValue;
  }
}

function rangeDimension(
  name: string,
  p: Extract<ParameterSpec, { distribution: 'uniform' | 'log_uniform_values' | 'int_uniform' | 'q_uniform' }>,
): SpaceDimension {
  const axis = axisFor(name, [], p);
  const clamp = (v: number) => Math.min(p.max, Math.max(p.min, v));
  const round =
    p.distribution === 'int_uniform'
      ? (v: number) => clamp(Math.round(v))
      : p.distribution === 'q_uniform'
        ? (v: number) => quantize(clamp(v), p.min, p.max, p.q)
        : clamp;
  return {
    name,
    axis,
    encode: (v) => clamp01(normalise(axis, Number(v))),
    decode: (u) => round(denormalise(axis, clamp01(u))),
  };
}

function numericChoice(name: string, p: ParameterSpec, values: number[]): SpaceDimension {
  const axis = axisFor(name, values, p);
  const positions = values.map((v) => normalise(axis, v));
  return {
    name,
    axis,
    encode: (v) => normalise(axis, Number(v)),
    decode: (u) => values[nearest(positions, u)]!,
  };
}

function indexChoice(name: string, values: PointValue[]): SpaceDimension {
  const positions = values.map((_, i) => i / (values.length - 1));
  return {
    name,
    axis: null,
    encode: (v) => positions[Math.max(0, values.indexOf(v))]!,
    decode: (u) => values[nearest(positions, u)]!,
  };
}

function quantize(v: number, min: number, max: number, q: number): number {
  const steps = Math.floor((max - min) / q + 1e-9);
  const k = Math.min(steps, Math.max(0, Math.round((v - min) / q)));
  const decimals = Math.max(0, Math.min(12, -Math.floor(Math.log10(q)) + 2));
  return Number((min + k * q).toFixed(decimals));
}

function nearest(positions: readonly number[], u: number): number {
  let best = 0;
  for (let i = 1; i < positions.length; i++) {
    if (Math.abs(positions[i]! - u) < Math.abs(positions[best]! - u)) best = i;
  }
  return best;
}

function clamp01(u: number): number {
  return Math.min(1, Math.max(0, u));
}

/** Latin hypercube of `n` points in [0, 1]^dims from `rand`: one point per stratum on every axis. */
export function latinHypercube(n: number, dims: number, rand: () => number): number[][] {
  const columns = Array.from({ length: dims }, () => {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order.map((k) => (k + rand()) / n);
  });
  return Array.from({ length: n }, (_, i) => columns.map((c) => c[i]!));
}

/** Squared Euclidean distance. */
export function distance2(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += (a[d]! - b[d]!) ** 2;
  return s;
}

/** Two points are the same when their squared distance in coordinates is below this. */
export const SAME_POINT = 1e-12;
const SLOT_WIDTH = 2 * Math.sqrt(SAME_POINT);

/**
 * The points a sweep has taken, asked "is this one taken?" for every
 * candidate of every proposed point. A scan of the whole sweep made that
 * O(trials) per candidate, most of a proposal's time on a long sweep. Each
 * point is filed by its projection on a fixed unit direction, in slots twice
 * the same-point distance wide: a projection moves no more than the point,
 * so a point's equals are in its slot or the ones beside it. The answers are
 * the scan's, exactly.
 */
export class TakenPoints {
  private readonly slots = new Map<number, (readonly number[])[]>();
  private direction: number[] = [];

  constructor(points: Iterable<readonly number[]> = []) {
    for (const u of points) this.add(u);
  }

  add(u: readonly number[]): void {
    const slot = this.slotOf(u);
    const points = this.slots.get(slot);
    if (points) points.push(u);
    else this.slots.set(slot, [u]);
  }

  has(u: readonly number[]): boolean {
    const slot = this.slotOf(u);
    for (let s = slot - 1; s <= slot + 1; s++) {
      for (const t of this.slots.get(s) ?? []) if (distance2(t, u) < SAME_POINT) return true;
    }
    return false;
  }

  private slotOf(u: readonly number[]): number {
    if (this.direction.length !== u.length) this.direction = unitDirection(u.length);
    let projection = 0;
    for (let d = 0; d < u.length; d++) projection += u[d]! * this.direction[d]!;
    return Math.floor(projection / SLOT_WIDTH);
  }
}

/** Square roots of primes, normalised: few distinct grid points share a projection on it. */
function unitDirection(dims: number): number[] {
  const primes: number[] = [];
  for (let n = 2; primes.length < dims; n++) if (primes.every((p) => n % p !== 0)) primes.push(n);
  const w = primes.map(Math.sqrt);
  const norm = Math.sqrt(w.reduce((s, v) => s + v * v, 0));
  return w.map((v) => v / norm);
}
