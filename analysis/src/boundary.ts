import { canonicalJson, fnv1a, mulberry32 } from '@grokmap/workflows';
import { compareParams, median } from './cells.js';
import type { AnalysedTrial, Phase } from './types.js';

/**
 * Phase boundaries with intervals: the critical value of one parameter
 * (`along`, by default the data fraction) at which runs start to land in a
 * set of phases (by default generalisation: grokking or comprehension), as a
 * function of another (`by`, by default weight decay), one curve per group
 * of the remaining parameters (model size, say) — seeds are what vary.
 *
 * At each value of `along` the share of classified seeds in the target
 * phases is the rate. The critical value is where the rate first reaches
 * `level` (0.5) going up `along`, interpolated linearly from the sampled
 * value below it. Uncertainty comes from a bootstrap over seeds: every cell
 * (group, by, along) resamples its own seeds with replacement, `bootstrap`
 * times, from a seeded PRNG (deterministic). The interval is the central
 * `interval` share of those replicates, widened to the two sampled values
 * that bracket the point estimate: between them the sweep has no data, so no
 * honest interval is narrower than the grid.
 *
 * A crossing below the smallest sampled value (the rate is already at the
 * level there) or above the largest (never reached) is censored: its value
 * is that end of the range and `censored` says which.
 */

export interface BoundaryOptions {
  /** Parameter whose critical value is estimated (default `data_fraction`). */
  along?: string;
  /** Parameter the boundary is a function of (default `weight_decay`). */
  by?: string;
  /** Parameters that only distinguish repeats (default `['seed']`). */
  seedKeys?: string[];
  /** Parameters that split curves (default: every other parameter found in the trials). */
  groupBy?: string[];
  /** Phases whose onset is sought (default grokking and comprehension: generalisation). */
  phases?: Phase[];
  /** Rate that counts as the onset (default 0.5). */
  level?: number;
  /** Bootstrap replicates (default 1000). */
  bootstrap?: number;
  /** Central share of replicates in the interval (default 0.9). */
  interval?: number;
  /** Seed of the bootstrap PRNG (default 0). */
  seed?: number;
}

export type Censoring = 'below' | 'above' | null;

export interface Crossing {
  value: number;
  censored: Censoring;
  /** The sampled values either side of the crossing (both the range end when censored). */
  bracket: [number, number];
}

export interface RatePoint {
  value: number;
  /** Share of classified seeds in the target phases. */
  rate: number;
  /** Classified seeds at this value. */
  seeds: number;
}

export interface BoundaryPoint {
  /** Value of the `by` parameter. */
  at: number;
  /** Critical value from all seeds. */
  estimate: number;
  censored: Censoring;
  /** Median of the bootstrap replicates. */
  median: number;
  lo: number;
  hi: number;
  /** Share of replicates censored below / above the sampled range. */
  censoredShare: { below: number; above: number };
  rates: RatePoint[];
}

export interface BoundaryCurve {
  /** Values of the grouping parameters (empty when there are none). */
  group: Record<string, unknown>;
  points: BoundaryPoint[];
}

export interface BoundaryEstimate {
  along: string;
  by: string;
  phases: Phase[];
  level: number;
  interval: number;
  bootstrap: number;
  curves: BoundaryCurve[];
}

/** Critical data fraction (or any `along`) as a function of weight decay (or any `by`), per group, with intervals. */
export function estimateBoundary(
  trials: readonly AnalysedTrial[],
  options: BoundaryOptions = {},
): BoundaryEstimate {
  const along = options.along ?? 'data_fraction';
  const by = options.by ?? 'weight_decay';
  const phases = options.phases ?? ['grokking', 'comprehension'];
  const level = options.level ?? 0.5;
  const bootstrap = options.bootstrap ?? 1000;
  const interval = options.interval ?? 0.9;
  const seedKeys = new Set(options.seedKeys ?? ['seed']);
  const groupBy =
    options.groupBy ??
    [...new Set(trials.flatMap((t) => Object.keys(t.params)))]
      .filter((k) => k !== along && k !== by && !seedKeys.has(k))
      .sort();
  const target = new Set<Phase>(phases);

  // group key → by value → along value → outcomes (1 in target phases, 0 not)
  const groups = new Map<
    string,
    { group: Record<string, unknown>; byValue: Map<number, Map<number, number[]>> }
  >();
  for (const t of trials) {
    const x = t.params[along];
    const b = t.params[by];
    if (!t.classification || typeof x !== 'number' || typeof b !== 'number') continue;
    const group = Object.fromEntries(groupBy.map((k) => [k, t.params[k]]));
    const key = canonicalJson(group);
    const g = groups.get(key) ?? { group, byValue: new Map() };
    groups.set(key, g);
    const cells = g.byValue.get(b) ?? new Map<number, number[]>();
    g.byValue.set(b, cells);
    const seeds = cells.get(x) ?? [];
    cells.set(x, seeds);
    seeds.push(target.has(t.classification.phase) ? 1 : 0);
  }

  const curves = [...groups.entries()].map(([key, g]) => ({
    group: g.group,
    points: [...g.byValue.entries()]
      .sort(([a], [b]) => a - b)
      .map(([at, cells]) => {
        const rand = mulberry32(fnv1a(`${options.seed ?? 0}:${key}:${at}`));
        return boundaryPoint(at, cells, { level, bootstrap, interval }, rand);
      }),
  }));
  curves.sort((a, b) => compareParams(a.group, b.group, groupBy));
  return { along, by, phases: [...phases], level, interval, bootstrap, curves };
}

/**
 * Where a rate curve first reaches `level` going up in value, interpolated
 * linearly from the sampled value below; censored at the ends of the range.
 */
export function criticalValue(rates: readonly { value: number; rate: number }[], level: number): Crossing {
  const sorted = [...rates].sort((a, b) => a.value - b.value);
  if (sorted.length === 0) throw new Error('criticalValue needs at least one rate');
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  const i = sorted.findIndex((r) => r.rate >= level);
  if (i === 0) return { value: first.value, censored: 'below', bracket: [first.value, first.value] };
  if (i < 0) return { value: last.value, censored: 'above', bracket: [last.value, last.value] };
  const a = sorted[i - 1]!;
  const b = sorted[i]!;
  const t = (level - a.rate) / (b.rate - a.rate);
  return { value: a.value + t * (b.value - a.value), censored: null, bracket: [a.value, b.value] };
}

/** Quantile q of sorted numbers, linear between order statistics. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty list');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

function boundaryPoint(
  at: number,
  cells: Map<number, number[]>,
  settings: { level: number; bootstrap: number; interval: number },
  rand: () => number,
): BoundaryPoint {
  const values = [...cells.keys()].sort((a, b) => a - b);
  const outcomes = values.map((v) => cells.get(v)!);
  const rates = values.map((value, i) => ({ value, rate: mean(outcomes[i]!), seeds: outcomes[i]!.length }));
  const point = criticalValue(rates, settings.level);

  const replicates: number[] = [];
  let below = 0;
  let above = 0;
  for (let r = 0; r < settings.bootstrap; r++) {
    const resampled = values.map((value, i) => {
      const seeds = outcomes[i]!;
      let hits = 0;
      for (let s = 0; s < seeds.length; s++) hits += seeds[Math.floor(rand() * seeds.length)]!;
      return { value, rate: hits / seeds.length };
    });
    const c = criticalValue(resampled, settings.level);
    if (c.censored === 'below') below++;
    if (c.censored === 'above') above++;
    replicates.push(c.value);
  }
  replicates.sort((a, b) => a - b);
  const tail = (1 - settings.interval) / 2;
  const hasReplicates = replicates.length > 0;
  return {
    at,
    estimate: point.value,
    censored: point.censored,
    median: hasReplicates ? median(replicates)! : point.value,
    lo: Math.min(point.bracket[0], hasReplicates ? quantile(replicates, tail) : point.value),
    hi: Math.max(point.bracket[1], hasReplicates ? quantile(replicates, 1 - tail) : point.value),
    censoredShare: {
      below: hasReplicates ? below / replicates.length : 0,
      above: hasReplicates ? above / replicates.length : 0,
    },
    rates,
  };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}
