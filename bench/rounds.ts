/**
 * Pipelined proposal rounds (analysis/src/samplers/rounds.ts) on a simulated
 * fleet: how busy whole batches and smaller, lagged rounds keep 16 workers
 * whose trials take different times, and what the proposals' later view of
 * the results costs. Bayes: mean best steps_to_generalize after its trials
 * (bench/bayes.ts's oracle). Adaptive: agreement of the final map with the
 * synthetic oracle's dense grid. Each setting runs the same trial times per
 * seed (a log-normal spread, σ = 0.6: the slowest of 16 trials takes about
 * three times the median), so the makespans compare side by side.
 */

import type { PhasePoint } from '../analysis/src/index.js';
import { proposalRounds } from '../analysis/src/samplers/rounds.js';
import type { SamplerResult } from '../analysis/src/samplers/types.js';
import { simulateFleet } from '../analysis/src/testing/fleet.js';
import { type PlannedTrial, type SweepSpec, streamFor, sweepSpecSchema } from '../workflows/src/index.js';
import { bayesSpec, lookup, MAX_STEPS, type MetricTable, metricTable } from './bayes.js';
import type { PhaseOracle } from './sampling.js';

const FLEET = 16;
const SPREAD = 0.6;
/**
 * Whole batches first (the others are measured against it); rounds of 4 at their default lag and
 * at the lag of rounds that merely fit beside one another; rounds of 2.
 */
const SETTINGS: { batch: number; lag?: number }[] = [
  { batch: FLEET },
  { batch: 4 },
  { batch: 4, lag: 12 },
  { batch: 2 },
];

export interface RoundsBenchRow {
  method: 'bayes' | 'adaptive';
  batch: number;
  lag: number;
  trials: number;
  /** Mean over seeds of busy / (makespan · fleet). */
  utilisation: number;
  /** Mean over seeds of makespan / makespan of whole batches on the same trial times. */
  makespanRatio: number;
  /** Bayes: mean best metric (lower is better); adaptive: mean final agreement. */
  quality: number;
}

function logNormalTimes(seed: number) {
  return (trial: PlannedTrial) => {
    const rand = streamFor(seed, trial.index, 'bench-trial-time');
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    return Math.exp(SPREAD * z);
  };
}

function withRounds(spec: SweepSpec, batch: number, lag: number | undefined): SweepSpec {
  const method = spec.method === 'bayes' ? { bayes: { batch } } : { adaptive: { ...spec.adaptive, batch } };
  return sweepSpecSchema.parse({
    ...spec,
    budget: { ...spec.budget, parallel: FLEET, ...(lag === undefined ? {} : { lag }) },
    ...method,
  });
}

function bayesResult(table: MetricTable) {
  return (trial: PlannedTrial): SamplerResult => {
    const metric = lookup(table, trial.params);
    return { index: trial.index, status: 'completed', phase: null, metric, censored: metric >= MAX_STEPS };
  };
}

/**
 * Each setting on each seed, for bayes (`bayesTrials`) and adaptive (`adaptiveTrials`,
 * on `oracle`, scored by `score`).
 */
export function benchRounds(
  seeds: readonly number[],
  oracle: PhaseOracle,
  score: (points: PhasePoint[]) => number,
  options: { bayesTrials: number; adaptiveTrials: number },
): RoundsBenchRow[] {
  const table = metricTable();
  const adaptiveSpec = (seed: number) =>
    sweepSpecSchema.parse({
      name: 'bench-rounds',
      trainer: 'synthetic',
      method: 'adaptive',
      seed,
      budget: { trials: options.adaptiveTrials, parallel: FLEET },
      parameters: oracle.parameters,
      fixed: oracle.fixed,
      adaptive: { stop_when: { max_change: 0, patience: 100 } },
    });
  const labelled = (trial: PlannedTrial): PhasePoint => {
    const x = oracle.axes.map((a) => Number(trial.params[a.name]));
    return { x, phase: oracle.phaseAt(x) };
  };
  const phaseResult = (trial: PlannedTrial): SamplerResult => ({
    index: trial.index,
    status: 'completed',
    phase: labelled(trial).phase,
    metric: null,
  });
  const methods = [
    {
      method: 'bayes' as const,
      trials: options.bayesTrials,
      spec: (seed: number) => bayesSpec('bayes', seed, options.bayesTrials),
      result: bayesResult(table),
      quality: (trials: PlannedTrial[]) => Math.min(...trials.map((t) => lookup(table, t.params))),
    },
    {
      method: 'adaptive' as const,
      trials: options.adaptiveTrials,
      spec: adaptiveSpec,
      result: phaseResult,
      quality: (trials: PlannedTrial[]) => score(trials.map(labelled)),
    },
  ];
  const rows: RoundsBenchRow[] = [];
  for (const m of methods) {
    const wholeMakespan = new Map<number, number>();
    for (const setting of SETTINGS) {
      let utilisation = 0;
      let makespanRatio = 0;
      let quality = 0;
      let lag = 0;
      for (const seed of seeds) {
        const spec = withRounds(m.spec(seed), setting.batch, setting.lag);
        lag = proposalRounds(spec).lag;
        const run = simulateFleet(spec, m.result, logNormalTimes(seed));
        if (setting.batch === FLEET) wholeMakespan.set(seed, run.makespan);
        utilisation += run.utilisation / seeds.length;
        makespanRatio += run.makespan / wholeMakespan.get(seed)! / seeds.length;
        quality += m.quality(run.trials) / seeds.length;
      }
      rows.push({
        method: m.method,
        batch: setting.batch,
        lag,
        trials: m.trials,
        utilisation,
        makespanRatio,
        quality,
      });
    }
  }
  return rows;
}
