/**
 * The bayes half of the sampling benchmark (bench/sampling.ts prints it).
 *
 * Best metric: best steps_to_generalize (synthetic, noise-free, over weight
 * decay × data fraction × model size) after n trials, bayes against random
 * search and Optuna's TPE (installed into .grokmap/venv-bench when PyPI is
 * reachable; skipped with a note otherwise). All three query the same
 * tabulated oracle (nearest cell of a fine table), so TPE can read it too.
 *
 * Cost: one proposal of 64 points with 64 pending after 250 to 4,000 trials
 * on the same oracle (a converging search's trials: half spread, half near
 * the best), in all and its longest stretch without giving the event loop
 * back (the control activity heartbeats in between); and the
 * expected-improvement search of one point at 1,000 trials, scoring every
 * candidate exactly against bounding first, side by side on one GP.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bayesProposalSteps,
  candidatesFor,
  maxExpectedImprovement,
  observedGp,
} from '../analysis/src/samplers/bayes.js';
import { encodePoint, searchSpace, TakenPoints } from '../analysis/src/samplers/space.js';
import { initialSamplerState, observeTrials, proposeTrials } from '../analysis/src/samplers/suggest.js';
import type { SamplerObservation, SamplerState } from '../analysis/src/samplers/types.js';
import { syntheticGroundTruth } from '../plugins/synthetic/src/index.js';
import { type ParameterSpec, type SweepSpec, streamFor, sweepSpecSchema } from '../workflows/src/index.js';
import { timeSteps } from './time-steps.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BayesBenchRow {
  trials: number;
  bayes: number;
  random: number;
  tpe: number | null;
}

const BAYES_PARAMETERS: Record<string, ParameterSpec> = {
  weight_decay: { distribution: 'log_uniform_values', min: 0.003, max: 30 },
  data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
  model_size: { distribution: 'categorical', values: [64, 128, 256, 512] },
};
const TABLE_RES = 201;
const MODEL_SIZES = [64, 128, 256, 512];
export const MAX_STEPS = 20000;

export interface MetricTable {
  wd: [number, number];
  f: [number, number];
  sizes: number[];
  res: number;
  /** values[size][i][j]: steps_to_generalize at wd_i (log-spaced), f_j. */
  values: number[][][];
}

export function metricTable(): MetricTable {
  const values = MODEL_SIZES.map((size) =>
    Array.from({ length: TABLE_RES }, (_, i) =>
      Array.from({ length: TABLE_RES }, (_, j) => {
        const wd = 10 ** (Math.log10(0.003) + (i / (TABLE_RES - 1)) * (Math.log10(30) - Math.log10(0.003)));
        const f = 0.1 + (j / (TABLE_RES - 1)) * 0.8;
        const truth = syntheticGroundTruth({
          weight_decay: wd,
          data_fraction: f,
          model_size: size,
          max_steps: MAX_STEPS,
          eval_every: 1,
        });
        return truth.tVal ?? MAX_STEPS;
      }),
    ),
  );
  return { wd: [0.003, 30], f: [0.1, 0.9], sizes: MODEL_SIZES, res: TABLE_RES, values };
}

export function lookup(table: MetricTable, params: Record<string, unknown>): number {
  const wd = Number(params.weight_decay);
  const f = Number(params.data_fraction);
  const size = table.sizes.indexOf(Number(params.model_size));
  const i = Math.round(
    ((Math.log10(wd) - Math.log10(table.wd[0])) / (Math.log10(table.wd[1]) - Math.log10(table.wd[0]))) *
      (table.res - 1),
  );
  const j = Math.round(((f - table.f[0]) / (table.f[1] - table.f[0])) * (table.res - 1));
  const clampIndex = (k: number) => Math.min(table.res - 1, Math.max(0, k));
  return table.values[size]![clampIndex(i)]![clampIndex(j)]!;
}

export function bayesSpec(method: 'bayes' | 'random', seed: number, trials: number): SweepSpec {
  return sweepSpecSchema.parse({
    name: `bench-${method}`,
    trainer: 'synthetic',
    method,
    seed,
    metric: { name: 'steps_to_generalize', goal: 'minimize' },
    budget: { trials, parallel: 4 },
    parameters: BAYES_PARAMETERS,
    fixed: { max_steps: MAX_STEPS, eval_every: 1 },
  });
}

/** Best-so-far after each trial of a bayes sweep run in batches of `batch`. */
function bayesCurve(table: MetricTable, seed: number, trials: number, batch = 4): number[] {
  const spec = bayesSpec('bayes', seed, trials);
  let state = initialSamplerState(spec);
  const curve: number[] = [];
  let best = Number.POSITIVE_INFINITY;
  while (state.nextIndex < trials) {
    const proposal = proposeTrials(spec, 'bench', state, batch);
    const results = proposal.trials.map((t) => {
      const metric = lookup(table, t.params);
      best = Math.min(best, metric);
      curve.push(best);
      return {
        index: t.index,
        status: 'completed' as const,
        phase: null,
        metric,
        censored: metric >= MAX_STEPS,
      };
    });
    state = observeTrials(proposal.state, results);
  }
  return curve;
}

function randomCurve(table: MetricTable, seed: number, trials: number): number[] {
  const curve: number[] = [];
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < trials; i++) {
    const rand = streamFor(seed, i, 'random');
    const wd = 10 ** (Math.log10(0.003) + rand() * (Math.log10(30) - Math.log10(0.003)));
    const f = 0.1 + rand() * 0.8;
    const size = MODEL_SIZES[Math.floor(rand() * MODEL_SIZES.length)]!;
    best = Math.min(best, lookup(table, { weight_decay: wd, data_fraction: f, model_size: size }));
    curve.push(best);
  }
  return curve;
}

const TPE_SCRIPT = `
import json, math, sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
table = json.load(open(sys.argv[1]))
seeds = [int(s) for s in sys.argv[2].split(',')]
trials = int(sys.argv[3])
lw0, lw1 = math.log10(table['wd'][0]), math.log10(table['wd'][1])
res = table['res']
def lookup(wd, f, size):
    i = round((math.log10(wd) - lw0) / (lw1 - lw0) * (res - 1))
    j = round((f - table['f'][0]) / (table['f'][1] - table['f'][0]) * (res - 1))
    i = min(res - 1, max(0, i)); j = min(res - 1, max(0, j))
    return table['values'][table['sizes'].index(size)][i][j]
out = []
for seed in seeds:
    def objective(trial):
        wd = trial.suggest_float('weight_decay', table['wd'][0], table['wd'][1], log=True)
        f = trial.suggest_float('data_fraction', table['f'][0], table['f'][1])
        size = trial.suggest_categorical('model_size', table['sizes'])
        return lookup(wd, f, size)
    study = optuna.create_study(direction='minimize', sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    best, curve = math.inf, []
    for t in study.trials:
        best = min(best, t.value); curve.append(best)
    out.append(curve)
print(json.dumps(out))
`;

/** Best-so-far curves from Optuna's TPE, or a note why there are none. */
function tpeCurves(table: MetricTable, seeds: number[], trials: number): number[][] | string {
  const dir = join(ROOT, '.grokmap', 'venv-bench');
  const python = join(dir, 'bin', 'python');
  try {
    if (!existsSync(python)) execFileSync('python3', ['-m', 'venv', dir], { stdio: 'ignore' });
    try {
      execFileSync(python, ['-c', 'import optuna'], { stdio: 'ignore' });
    } catch {
      execFileSync(python, ['-m', 'pip', 'install', '-q', 'optuna'], { stdio: 'ignore', timeout: 300_000 });
    }
    mkdirSync(join(ROOT, '.grokmap', 'bench'), { recursive: true });
    const tablePath = join(ROOT, '.grokmap', 'bench', 'steps-table.json');
    const scriptPath = join(ROOT, '.grokmap', 'bench', 'tpe.py');
    writeFileSync(tablePath, JSON.stringify(table));
    writeFileSync(scriptPath, TPE_SCRIPT);
    const out = execFileSync(python, [scriptPath, tablePath, seeds.join(','), String(trials)], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    return JSON.parse(out) as number[][];
  } catch (error) {
    return `Optuna TPE skipped: ${(error as Error).message.split('\n')[0]}`;
  }
}

function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

export function benchBayes(
  seeds: number[],
  checkpoints: number[],
): { rows: BayesBenchRow[]; tpeNote?: string } {
  const table = metricTable();
  const trials = Math.max(...checkpoints);
  const bayes = seeds.map((s) => bayesCurve(table, s, trials));
  const random = seeds.map((s) => randomCurve(table, s, trials));
  const tpe = tpeCurves(table, seeds, trials);
  const at = (curves: number[][], n: number) => mean(curves.map((c) => c[n - 1]!));
  const rows = checkpoints.map((n) => ({
    trials: n,
    bayes: at(bayes, n),
    random: at(random, n),
    tpe: typeof tpe === 'string' ? null : at(tpe, n),
  }));
  return typeof tpe === 'string' ? { rows, tpeNote: tpe } : { rows };
}

// ---- what a proposal costs on a long sweep ---------------------------------------------------

export interface BayesCostRow {
  observations: number;
  points: number;
  /** Seconds for the whole proposal, and for its longest stretch without giving the event loop back. */
  totalS: number;
  longestS: number;
}

export interface EiSearchCost {
  observations: number;
  candidates: number;
  /** Milliseconds to find the best candidate scoring every one exactly, and bounding first (the fastest of 3 each). */
  exhaustiveMs: number;
  prunedMs: number;
  samePick: boolean;
}

/** Points, pending and chosen, per proposal in the cost bench: a fleet of 64 GPUs. */
const COST_BATCH = 64;

/**
 * A long sweep's trials, as a converging search leaves them: every other
 * one spread over the space, the rest close to the best spread one so far.
 */
function longSweep(table: MetricTable, n: number): SamplerObservation[] {
  const [lw0, lw1] = table.wd.map(Math.log10) as [number, number];
  let best: { lw: number; f: number; size: number; metric: number } | undefined;
  return Array.from({ length: n }, (_, index) => {
    const rand = streamFor(0, index, 'bench-long-sweep');
    let lw = lw0 + rand() * (lw1 - lw0);
    let f = table.f[0] + rand() * (table.f[1] - table.f[0]);
    let size = MODEL_SIZES[Math.floor(rand() * MODEL_SIZES.length)]!;
    if (index % 2 === 1 && best) {
      lw = Math.min(lw1, Math.max(lw0, best.lw + 0.1 * (rand() - 0.5)));
      f = Math.min(table.f[1], Math.max(table.f[0], best.f + 0.04 * (rand() - 0.5)));
      size = best.size;
    }
    const point = { weight_decay: 10 ** lw, data_fraction: f, model_size: size };
    const metric = lookup(table, point);
    if (index % 2 === 0 && (!best || metric < best.metric)) best = { lw, f, size, metric };
    return { index, point, status: 'completed', phase: null, metric, censored: metric >= MAX_STEPS };
  });
}

/** Time one proposal of COST_BATCH points, with as many pending, after `n` observed trials. */
function proposalCost(table: MetricTable, n: number): BayesCostRow {
  const spec = bayesSpec('bayes', 0, n + 3 * COST_BATCH);
  const trials = longSweep(table, n + COST_BATCH);
  const state: SamplerState = {
    ...initialSamplerState(spec),
    nextIndex: n + COST_BATCH,
    observations: trials.slice(0, n),
    pending: trials.slice(n).map((o) => ({ index: o.index, point: o.point })),
  };
  return { observations: n, points: COST_BATCH, ...timeSteps(bayesProposalSteps(spec, state, COST_BATCH)) };
}

/** The expected-improvement search of one proposed point, exhaustive against bounded-first, on the same GP. */
function eiSearchCost(table: MetricTable, n: number): EiSearchCost {
  const spec = bayesSpec('bayes', 0, n);
  const space = searchSpace(spec, { numericOnly: false });
  const observations = longSweep(table, n);
  // The GP and the candidates of the proposal's next point, as the sampler makes them.
  const gp = observedGp(space, spec, observations);
  const taken = new TakenPoints(observations.map((o) => encodePoint(space, o.point)));
  const candidates = candidatesFor(space, gp, spec.seed, n, taken);
  const timed = (prune: boolean) => {
    const start = performance.now();
    const pick = maxExpectedImprovement(gp, candidates, prune);
    return { pick, ms: performance.now() - start };
  };
  const runs = [0, 1, 2].map(() => ({ exhaustive: timed(false), pruned: timed(true) }));
  return {
    observations: n,
    candidates: candidates.length,
    exhaustiveMs: Math.min(...runs.map((r) => r.exhaustive.ms)),
    prunedMs: Math.min(...runs.map((r) => r.pruned.ms)),
    samePick: runs.every((r) => r.pruned.pick === r.exhaustive.pick),
  };
}

export function benchBayesCost(sizes: number[]): { proposals: BayesCostRow[]; eiSearch: EiSearchCost } {
  const table = metricTable();
  return { proposals: sizes.map((n) => proposalCost(table, n)), eiSearch: eiSearchCost(table, 1000) };
}
