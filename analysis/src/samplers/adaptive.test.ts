import { streamFor, sweepSpecSchema } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { groundTruthPhase } from '../../../plugins/synthetic/src/index.js';
import { axisFor } from '../axes.js';
import { fitPhaseMap, gridPoints, predictPhaseMap } from '../phase-map.js';
import type { Phase } from '../types.js';
import { ambiguity, changedShare } from './adaptive.js';
import { initialSamplerState, observeTrials, proposeTrials, type SamplerProposal } from './suggest.js';
import type { SamplerState } from './types.js';

const WD = [0.003, 30] as const;
const F = [0.1, 0.9] as const;
const AXES = [
  axisFor('weight_decay', [], { distribution: 'log_uniform_values', min: WD[0], max: WD[1] }),
  axisFor('data_fraction', [], { distribution: 'uniform', min: F[0], max: F[1] }),
];

/** The synthetic trainer's noise-free phase at model size 128: all four phases over this range. */
function truth(wd: number, f: number): Phase {
  return groundTruthPhase({ weight_decay: wd, data_fraction: f, model_size: 128 });
}

function fromUnit(u: number, v: number): [number, number] {
  return [10 ** (Math.log10(WD[0]) + u * (Math.log10(WD[1]) - Math.log10(WD[0]))), F[0] + v * (F[1] - F[0])];
}

function toUnit(wd: number, f: number): [number, number] {
  return [
    (Math.log10(wd) - Math.log10(WD[0])) / (Math.log10(WD[1]) - Math.log10(WD[0])),
    (f - F[0]) / (F[1] - F[0]),
  ];
}

/** Whether a boundary (between `pair`, or any two phases) passes within `radius` (normalised units) of a point. */
function nearBoundary(wd: number, f: number, radius: number, pair?: [Phase, Phase]): boolean {
  const [u, v] = toUnit(wd, f);
  const here = truth(wd, f);
  for (let k = 0; k < 16; k++) {
    const a = (2 * Math.PI * k) / 16;
    for (const r of [radius / 2, radius]) {
      const there = truth(
        ...fromUnit(
          Math.min(1, Math.max(0, u + r * Math.cos(a))),
          Math.min(1, Math.max(0, v + r * Math.sin(a))),
        ),
      );
      if (there !== here && (!pair || (pair.includes(here) && pair.includes(there)))) return true;
    }
  }
  return false;
}

function specFor(seed: number, adaptive: Record<string, unknown> = {}, trials = 60) {
  return sweepSpecSchema.parse({
    name: 'test-adaptive',
    trainer: 'synthetic',
    method: 'adaptive',
    seed,
    budget: { trials, parallel: 4 },
    parameters: {
      weight_decay: { distribution: 'log_uniform_values', min: WD[0], max: WD[1] },
      data_fraction: { min: F[0], max: F[1] },
      seed: { values: [0, 1] },
    },
    fixed: { model_size: 128 },
    adaptive: { batch: 4, initial: 12, ...adaptive },
  });
}

/** Observe proposed trials at their true phase. */
function observeTruth(p: SamplerProposal): SamplerState {
  return observeTrials(
    p.state,
    p.trials.map((t) => ({
      index: t.index,
      status: 'completed' as const,
      metric: null,
      phase: truth(Number(t.params.weight_decay), Number(t.params.data_fraction)),
    })),
  );
}

function runAdaptive(spec: ReturnType<typeof specFor>): { state: SamplerState; exhausted: boolean } {
  let state = initialSamplerState(spec);
  for (;;) {
    const p = proposeTrials(spec, 's', state, 4);
    state = observeTruth(p);
    if (p.exhausted || p.trials.length === 0) return { state, exhausted: p.exhausted };
  }
}

function shareNear(points: [number, number][], pair?: [Phase, Phase]): number {
  return points.filter(([wd, f]) => nearBoundary(wd, f, 0.05, pair)).length / points.length;
}

function randomPoints(seed: number, n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => {
    const rand = streamFor(seed, i, 'test-random');
    return fromUnit(rand(), rand());
  });
}

describe('adaptive sampler', () => {
  it('concentrates its trials after the initial design near the true phase boundaries', () => {
    for (const seed of [0, 1, 2]) {
      const { state } = runAdaptive(specFor(seed, { stop_when: { max_change: 0 } }));
      const adaptive = state.observations
        .filter((o) => o.index >= 12)
        .map((o): [number, number] => [Number(o.point.weight_decay), Number(o.point.data_fraction)]);
      expect(adaptive.length).toBe(48);
      const random = shareNear(randomPoints(seed, 400));
      // Not all on it: the gain also favours places a little off a boundary whose observation settles several ambiguous ones.
      expect(shareNear(adaptive)).toBeGreaterThan(1.5 * random);
    }
  });

  it('maps the phases better than as many random trials', () => {
    const grid = gridPoints(AXES, 40);
    const agreement = (points: [number, number][]) => {
      const model = fitPhaseMap(
        points.map(([wd, f]) => ({ x: [wd, f], phase: truth(wd, f) })),
        AXES,
      );
      const cells = predictPhaseMap(model, grid);
      return cells.filter((c) => c.phase === truth(c.x[0]!, c.x[1]!)).length / cells.length;
    };
    for (const seed of [0, 1, 2]) {
      const { state } = runAdaptive(specFor(seed, { stop_when: { max_change: 0 } }));
      const adaptive = state.observations.map((o): [number, number] => [
        Number(o.point.weight_decay),
        Number(o.point.data_fraction),
      ]);
      expect(agreement(adaptive)).toBeGreaterThan(agreement(randomPoints(seed, adaptive.length)) + 0.01);
    }
  });

  it('spreads each batch out instead of piling it up at the most doubtful place', () => {
    for (const seed of [0, 1, 2]) {
      const { state } = runAdaptive(specFor(seed, { stop_when: { max_change: 0 } }));
      const after = state.observations.filter((o) => o.index >= 12);
      const closest: number[] = [];
      for (let b = 0; b < after.length; b += 4) {
        const us = after
          .slice(b, b + 4)
          .map((o) => toUnit(Number(o.point.weight_decay), Number(o.point.data_fraction)));
        let d = Number.POSITIVE_INFINITY;
        us.forEach((u, i) => {
          for (const v of us.slice(0, i)) d = Math.min(d, Math.hypot(u[0] - v[0], u[1] - v[1]));
        });
        closest.push(d);
      }
      closest.sort((a, b) => a - b);
      // Candidates lie about 1/32 apart: a batch of the four best-scoring neighbours would sit that close.
      expect(closest[Math.floor(closest.length / 2)]).toBeGreaterThan(3 / 32);
    }
  });

  it('with a boundary target, samples that boundary more than the others', () => {
    const pair: [Phase, Phase] = ['memorization', 'grokking'];
    const spec = specFor(3, { target: { boundary: pair }, stop_when: { max_change: 0 } });
    const { state } = runAdaptive(spec);
    const points = state.observations
      .filter((o) => o.index >= 12)
      .map((o): [number, number] => [Number(o.point.weight_decay), Number(o.point.data_fraction)]);
    const targeted = shareNear(points, pair);
    const everywhere = shareNear(randomPoints(3, 400), pair);
    expect(targeted).toBeGreaterThan(3 * everywhere);
    const other = runAdaptive(specFor(3, { stop_when: { max_change: 0 } }))
      .state.observations.filter((o) => o.index >= 12)
      .map((o): [number, number] => [Number(o.point.weight_decay), Number(o.point.data_fraction)]);
    expect(targeted).toBeGreaterThan(shareNear(other, pair));
  });

  it('stops once the map stops changing, before the budget', () => {
    const spec = specFor(4, { stop_when: { max_change: 0.05, patience: 2 } }, 400);
    const { state, exhausted } = runAdaptive(spec);
    expect(exhausted).toBe(true);
    expect(state.converged).toBe(true);
    expect(state.nextIndex).toBeLessThan(400);
    expect(state.lastMap!.settled).toBe(2);
    expect(state.lastMap!.change).toBeLessThanOrEqual(0.05);
    // And it proposes nothing more.
    expect(proposeTrials(spec, 's', state, 4).trials).toEqual([]);
  });

  it('proposes a round of at most a batch, and none while a trial the next round sees is out', () => {
    const spec = specFor(5);
    let state = initialSamplerState(spec);
    // The design (12) needs no results, but still goes out one round (4) at a time.
    const first = proposeTrials(spec, 's', state, 20);
    expect(first.trials).toHaveLength(4);
    expect(proposeTrials(spec, 's', first.state, 20).trials).toHaveLength(0);
    state = observeTruth(first);
    state = observeTruth(proposeTrials(spec, 's', state, 20));
    state = observeTruth(proposeTrials(spec, 's', state, 20));
    const fourth = proposeTrials(spec, 's', state, 20);
    expect(fourth.trials.map((t) => t.index)).toEqual([12, 13, 14, 15]);
    expect(proposeTrials(spec, 's', fourth.state, 20).trials).toHaveLength(0);
  });

  it('on a grid of values proposes each cell at most once, and nothing once every cell is taken', () => {
    const wds = [0.003, 0.03, 0.3, 3, 30];
    const fs = [0.1, 0.3, 0.5, 0.7, 0.9];
    const spec = sweepSpecSchema.parse({
      name: 'test-adaptive-cells',
      trainer: 'synthetic',
      method: 'adaptive',
      seed: 6,
      budget: { trials: 60, parallel: 4 },
      parameters: { weight_decay: { values: wds }, data_fraction: { values: fs } },
      fixed: { model_size: 128 },
      adaptive: { batch: 4, stop_when: { max_change: 0 } },
    });
    const { state } = runAdaptive(spec);
    const cells = state.observations.map((o) => `${o.point.weight_decay},${o.point.data_fraction}`);
    expect(new Set(cells).size).toBe(cells.length);
    expect(cells).toHaveLength(wds.length * fs.length);
    for (const o of state.observations) {
      expect(wds).toContain(o.point.weight_decay);
      expect(fs).toContain(o.point.data_fraction);
    }
  });

  it('ambiguity is the chance the most probable label is wrong, or for a boundary, how evenly it is split', () => {
    expect(ambiguity([0.5, 0.5, 0, 0], 'phase')).toBeGreaterThan(ambiguity([0.9, 0.1, 0, 0], 'phase'));
    expect(ambiguity([1, 0, 0, 0], 'phase')).toBe(0);
    const target = { boundary: ['grokking', 'memorization'] as [Phase, Phase] };
    expect(ambiguity([0, 0.5, 0.5, 0], target)).toBeGreaterThan(ambiguity([0.5, 0.5, 0, 0], target));
    expect(ambiguity([0.5, 0.5, 0, 0], target)).toBe(0);
    expect(changedShare('cgmx', 'cgmm')).toBe(0.25);
  });
});
