import { randomPoint, streamFor } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { bayesSpec } from '../../../bench/bayes.js';
import { syntheticGroundTruth } from '../../../plugins/synthetic/src/index.js';
import {
  expectedImprovement,
  fitHyperparameters,
  Gp,
  maxExpectedImprovement,
  observationSubset,
  transformMetric,
} from './bayes.js';
import { initialSamplerState, observeTrials, proposeTrials } from './suggest.js';

const MAX_STEPS = 20000;

/** The synthetic trainer's noise-free steps to generalize (max_steps when it never does: censored). */
function stepsToGeneralize(params: Record<string, unknown>): number {
  const truth = syntheticGroundTruth({
    weight_decay: Number(params.weight_decay),
    data_fraction: Number(params.data_fraction),
    model_size: Number(params.model_size),
    max_steps: MAX_STEPS,
    eval_every: 1,
  });
  return truth.tVal ?? MAX_STEPS;
}

/** The bench's bayes spec (bench/bayes.ts): the synthetic trainer over weight decay × data fraction × model size. */
function specFor(method: 'bayes' | 'random', seed: number) {
  return bayesSpec(method, seed, 30);
}

function bestOfBayes(seed: number): number {
  const spec = specFor('bayes', seed);
  let state = initialSamplerState(spec);
  let best = Number.POSITIVE_INFINITY;
  while (state.nextIndex < spec.budget.trials) {
    const p = proposeTrials(spec, 's', state, 4);
    const results = p.trials.map((t) => {
      const metric = stepsToGeneralize(t.params);
      best = Math.min(best, metric);
      return { index: t.index, status: 'completed' as const, phase: null, metric };
    });
    state = observeTrials(p.state, results);
  }
  return best;
}

function bestOfRandom(seed: number): number {
  const spec = specFor('random', seed);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < spec.budget.trials; i++) best = Math.min(best, stepsToGeneralize(randomPoint(spec, i)));
  return best;
}

describe('bayes', () => {
  it('finds faster-generalizing runs than random search in 30 trials, across seeds', () => {
    const seeds = [0, 1, 2, 3, 4, 5];
    const bayes = seeds.map(bestOfBayes);
    const random = seeds.map(bestOfRandom);
    const meanLog = (xs: number[]) => xs.reduce((s, x) => s + Math.log(x), 0) / xs.length;
    expect(meanLog(bayes)).toBeLessThan(meanLog(random));
    // Better or equal on most seeds, not just on average.
    expect(seeds.filter((_, i) => bayes[i]! <= random[i]!).length).toBeGreaterThanOrEqual(4);
  });

  it('fits a long length scale to a dimension the target ignores', () => {
    const x: number[][] = [];
    for (let i = 0; i < 25; i++) x.push([((i * 7) % 25) / 24, ((i * 11) % 25) / 24]);
    const y = transformMetric(
      x.map(([a]) => Math.sin(6 * a!)),
      'minimize',
    );
    const h = fitHyperparameters(x, y);
    expect(h.lengthScales[1]!).toBeGreaterThan(3 * h.lengthScales[0]!);
    const gp = Gp.fit(x, y, h.lengthScales, h.noise);
    const { mean, sd } = gp.predict(x.slice(0, 5));
    mean.forEach((m, i) => {
      expect(m).toBeCloseTo(y[i]!, 1);
    });
    for (const s of sd) expect(s).toBeLessThan(0.2);
    expect(gp.predict([[5, 0.5]]).sd[0]!).toBeGreaterThan(0.5);
  });

  it('adds a believed point to the factor exactly as refitting on all the points does', () => {
    const x: number[][] = [];
    for (let i = 0; i < 30; i++) x.push([((i * 7) % 30) / 29, ((i * 13) % 30) / 29]);
    const y = x.map(([a, b]) => Math.sin(4 * a!) + b! * b!);
    const extra: [number[], number][] = [
      [[0.33, 0.71], 0.4],
      [[0.9, 0.05], -1.2],
    ];
    let extended = Gp.fit(x, y, [0.3, 0.5], 0.01);
    for (const [u, v] of extra) extended = extended.with(u, v);
    const refit = Gp.fit(
      [...x, ...extra.map(([u]) => u)],
      [...y, ...extra.map(([, v]) => v)],
      [0.3, 0.5],
      0.01,
    );
    const probe = [
      [0.5, 0.5],
      [0.34, 0.7],
      [0.1, 0.95],
    ];
    const a = extended.predict(probe);
    const b = refit.predict(probe);
    probe.forEach((_, i) => {
      expect(a.mean[i]!).toBeCloseTo(b.mean[i]!, 8);
      expect(a.sd[i]!).toBeCloseTo(b.sd[i]!, 8);
    });
    // The Kriging believer's shortcut: the point at its own predicted mean.
    const base = Gp.fit(x, y, [0.3, 0.5], 0.01);
    const u = [0.62, 0.18];
    const believed = base.believe(u).believe([0.1, 0.4]);
    const told = base.with(u, base.predict([u]).mean[0]!);
    const toldTwice = told.with([0.1, 0.4], told.predict([[0.1, 0.4]]).mean[0]!);
    const c = believed.predict(probe);
    const d = toldTwice.predict(probe);
    probe.forEach((_, i) => {
      expect(c.mean[i]!).toBeCloseTo(d.mean[i]!, 10);
      expect(c.sd[i]!).toBeCloseTo(d.sd[i]!, 10);
    });
    expect(believed.y).toEqual(toldTwice.y);
  });

  it('bounds each standard deviation from its nearest observations, and picks the same point as scoring every candidate exactly', () => {
    for (const [seed, lengthScale, noise] of [
      [1, 0.15, 1e-4],
      [2, 0.4, 0.01],
      [3, 0.08, 0.1],
    ] as const) {
      const rand = streamFor(seed, 0, 'ei-prune-test');
      // Half the points clustered where the search has converged, as in a long sweep.
      const x = Array.from({ length: 300 }, (_, i) =>
        [0, 1, 2].map(() => (i % 2 === 0 ? 0.3 + 0.1 * rand() : rand())),
      );
      const y = x.map(([a, b, c]) => (a! - 0.35) ** 2 + Math.sin(5 * b!) + 0.3 * c!);
      const gp = Gp.fit(x, y, [lengthScale, lengthScale * 1.5, lengthScale * 2], noise);
      const candidates = Array.from({ length: 400 }, (_, i) =>
        [0, 1, 2].map(() => (i % 3 === 0 ? 0.3 + 0.12 * rand() : rand())),
      );
      let loose = 0;
      for (const c of candidates) {
        const k = gp.covariances(c);
        const exact = gp.sdFrom(k);
        const bound = gp.sdUpperBound(k);
        expect(bound).toBeGreaterThanOrEqual(exact);
        if (bound < 0.9) loose++;
      }
      // The bound is informative (not 1 everywhere), else pruning would prune nothing.
      expect(loose).toBeGreaterThan(candidates.length / 4);
      expect(maxExpectedImprovement(gp, candidates)).toBe(maxExpectedImprovement(gp, candidates, false));
    }
  });

  it('fits on every observation up to a size, beyond on the best half of it and a spread of the rest', () => {
    expect(observationSubset([3, 1, 2], 150)).toEqual([0, 1, 2]);
    const y = Array.from({ length: 400 }, (_, i) => Math.cos(i * 1.7));
    const subset = observationSubset(y, 150);
    expect(subset).toHaveLength(150);
    expect(new Set(subset).size).toBe(150);
    expect([...subset].sort((a, b) => a - b)).toEqual(subset);
    const best = y
      .map((_, i) => i)
      .sort((a, b) => y[a]! - y[b]!)
      .slice(0, 75);
    for (const i of best) expect(subset).toContain(i);
    // The rest is spread over the sweep, not the 75 next-best.
    expect(Math.max(...subset.filter((i) => !best.includes(i)))).toBeGreaterThan(350);
  });

  it('transforms metrics: maximised ones negated, wide positive ones on a log scale, standardised', () => {
    const t = transformMetric([10, 100, 1000], 'minimize');
    expect(t[1]! - t[0]!).toBeCloseTo(t[2]! - t[1]!, 9);
    const m = transformMetric([0.1, 0.5, 0.9], 'maximize');
    expect(m[0]!).toBeGreaterThan(m[2]!);
    expect(m.reduce((s, v) => s + v, 0)).toBeCloseTo(0, 9);
  });

  it('expected improvement rewards a lower mean and more uncertainty', () => {
    expect(expectedImprovement(0, -1, 0)).toBe(1);
    expect(expectedImprovement(0, 1, 0)).toBe(0);
    expect(expectedImprovement(0, 0, 1)).toBeCloseTo(1 / Math.sqrt(2 * Math.PI), 6);
    expect(expectedImprovement(0, 0.5, 1)).toBeGreaterThan(expectedImprovement(0, 0.5, 0.5));
  });
});
