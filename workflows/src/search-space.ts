import { streamFor } from './prng.js';
import type { ParameterSpec, SweepSpec } from './spec.js';

/**
 * Search spaces as plain data: grid enumeration and random sampling, both
 * addressable by trial index so a sweep of any size never materializes its
 * whole plan (trial i is computed on demand, identically everywhere).
 */

/** The finite list of values a parameter takes in a grid, or undefined if it is continuous. */
export function gridValues(p: ParameterSpec): unknown[] | undefined {
  switch (p.distribution) {
    case 'constant':
      return [p.value];
    case 'categorical':
      return p.values;
    case 'int_uniform': {
      const out: number[] = [];
      for (let v = p.min; v <= p.max; v++) out.push(v);
      return out;
    }
    case 'q_uniform': {
      const n = Math.floor((p.max - p.min) / p.q + 1e-9);
      return Array.from({ length: n + 1 }, (_, i) => roundTo(p.min + i * p.q, p.q));
    }
    default:
      return undefined;
  }
}

/** Parameter names in a fixed order (sorted) so expansion never depends on key order in YAML. */
export function parameterNames(spec: Pick<SweepSpec, 'parameters'>): string[] {
  return Object.keys(spec.parameters).sort();
}

export interface GridShape {
  names: string[];
  values: unknown[][];
  size: number;
}

export type GridCheck = { ok: true; shape: GridShape } | { ok: false; path: string[]; message: string };

/** The grid's shape, or the reason it has none (a continuous parameter). */
export function gridShape(spec: Pick<SweepSpec, 'parameters'>): GridCheck {
  const names = parameterNames(spec);
  const values: unknown[][] = [];
  let size = 1;
  for (const name of names) {
    const v = gridValues(spec.parameters[name]!);
    if (!v) {
      return {
        ok: false,
        path: ['parameters', name],
        message: `distribution ${spec.parameters[name]!.distribution} is continuous; a grid needs value, values, int_uniform or q_uniform`,
      };
    }
    values.push(v);
    size *= v.length;
  }
  return { ok: true, shape: { names, values, size } };
}

/** Trial `index` of a grid, in mixed-radix order (the last name varies fastest). */
export function gridPoint(shape: GridShape, index: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let rest = index;
  for (let d = shape.names.length - 1; d >= 0; d--) {
    const vals = shape.values[d]!;
    out[shape.names[d]!] = vals[rest % vals.length];
    rest = Math.floor(rest / vals.length);
  }
  return out;
}

/** Draw one value; `u` is a uniform number in [0, 1). */
export function sampleParameter(p: ParameterSpec, u: number): unknown {
  switch (p.distribution) {
    case 'constant':
      return p.value;
    case 'categorical':
      return p.values[Math.min(p.values.length - 1, Math.floor(u * p.values.length))];
    case 'uniform':
      return p.min + u * (p.max - p.min);
    case 'log_uniform_values':
      return Math.exp(Math.log(p.min) + u * (Math.log(p.max) - Math.log(p.min)));
    case 'int_uniform':
      return Math.min(p.max, p.min + Math.floor(u * (p.max - p.min + 1)));
    case 'q_uniform': {
      const n = Math.floor((p.max - p.min) / p.q + 1e-9);
      return roundTo(p.min + Math.min(n, Math.floor(u * (n + 1))) * p.q, p.q);
    }
  }
}

/** Trial `index` of a random sweep: independent of every other index. */
export function randomPoint(
  spec: Pick<SweepSpec, 'parameters' | 'seed'>,
  index: number,
): Record<string, unknown> {
  const rand = streamFor(spec.seed, index, 'random');
  const out: Record<string, unknown> = {};
  for (const name of parameterNames(spec)) out[name] = sampleParameter(spec.parameters[name]!, rand());
  return out;
}

/** Whether a parameter is searched on a log scale (used by models over the space). */
export function isLogScale(p: ParameterSpec): boolean {
  if (p.distribution === 'log_uniform_values') return true;
  if (p.distribution === 'categorical') {
    const nums = p.values.filter((v): v is number => typeof v === 'number');
    if (nums.length === p.values.length && nums.length >= 3 && nums.every((v) => v > 0)) {
      const ratio = Math.max(...nums) / Math.min(...nums);
      return ratio >= 20;
    }
  }
  return false;
}

function roundTo(x: number, q: number): number {
  const decimals = Math.max(0, Math.min(12, -Math.floor(Math.log10(q)) + 2));
  return Number(x.toFixed(decimals));
}
