import { isLogScale, type ParameterSpec } from '@grokmap/workflows';
import type { Axis } from './types.js';

/**
 * Axes of phase diagrams: a swept numeric parameter, its range, and whether
 * models and figures treat it on a log scale. Models work in normalised
 * coordinates, [0, 1] across the axis range (log10 first on log axes).
 */

/** Position of `value` on an axis in [0, 1] (log10 for log axes); 0.5 on a degenerate axis. */
export function normalise(axis: Axis, value: number): number {
  const f = axis.log ? Math.log10 : (v: number) => v;
  const lo = f(axis.min);
  const span = f(axis.max) - lo;
  return span > 0 ? (f(value) - lo) / span : 0.5;
}

/** Inverse of {@link normalise}. */
export function denormalise(axis: Axis, u: number): number {
  if (axis.log) {
    const lo = Math.log10(axis.min);
    return 10 ** (lo + u * (Math.log10(axis.max) - lo));
  }
  return axis.min + u * (axis.max - axis.min);
}

/**
 * The axis of a swept parameter: log-scaled when its search space is
 * (`isLogScale`: log-uniform, or numeric values spanning a factor ≥ 20) and
 * every value is positive; the range covers the spec's bounds and every value
 * seen. Without a spec the scale follows the values alone.
 */
export function axisFor(name: string, seen: readonly number[], spec?: ParameterSpec): Axis {
  const finite = seen.filter(Number.isFinite);
  const bounds = spec ? specBounds(spec) : [];
  const all = [...finite, ...bounds];
  const values = [...new Set(finite)].sort((a, b) => a - b);
  const log =
    all.length > 0 &&
    all.every((v) => v > 0) &&
    (spec ? isLogScale(spec) : isLogScale({ distribution: 'categorical', values }));
  return {
    name,
    log,
    min: all.length > 0 ? Math.min(...all) : 0,
    max: all.length > 0 ? Math.max(...all) : 1,
    values,
  };
}

function specBounds(spec: ParameterSpec): number[] {
  switch (spec.distribution) {
    case 'uniform':
    case 'log_uniform_values':
    case 'int_uniform':
    case 'q_uniform':
      return [spec.min, spec.max];
    case 'categorical':
      return spec.values.filter((v): v is number => typeof v === 'number');
    case 'constant':
      return typeof spec.value === 'number' ? [spec.value] : [];
  }
}
