/**
 * Sampling benchmark: how many trials each method needs.
 *
 * Phase maps: for each oracle (the synthetic trainer's noise-free phase over
 * weight_decay × data_fraction, and each of Liu et al.'s published grids,
 * looked up at the nearest cell), grid, random and adaptive sweeps run until
 * the phase map estimated from their trials (fitPhaseMap, the same for all)
 * labels a dense 48 × 48 grid with ≥ 95% agreement with the oracle. Grid:
 * k × k grids for k = 2, 3, …; random: n growing by ~10%; adaptive: its
 * batches. Several seeds; the table shows medians and the ratio to grid.
 *
 * Bayes: best steps_to_generalize (synthetic, noise-free, over weight
 * decay × data fraction × model size) after n trials, bayes against random
 * search and Optuna's TPE (installed into .grokmap/venv-bench when PyPI is
 * reachable; skipped with a note otherwise). All three query the same
 * tabulated oracle (nearest cell of a fine table), so TPE can read it too.
 *
 * Run: npx tsx bench/sampling.ts [--quick]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type Axis,
  axisFor,
  denormalise,
  fitPhaseMap,
  loadReferenceGrid,
  normalise,
  type Phase,
  type PhasePoint,
  predictPhaseMap,
  referenceGridNames,
} from '../analysis/src/index.js';
import { initialSamplerState, observeTrials, proposeTrials } from '../analysis/src/samplers/suggest.js';
import type { SamplerState } from '../analysis/src/samplers/types.js';
import { groundTruthPhase, syntheticGroundTruth } from '../plugins/synthetic/src/index.js';
import { type ParameterSpec, type SweepSpec, streamFor, sweepSpecSchema } from '../workflows/src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REFERENCE = '/work/shared/reference/liu2022-phase-grids.json';
const TARGETS = [0.9, 0.95];
const EVAL_RES = 48;
/** Trials at most per method and seed ("> MAX" when a target is not reached). */
const MAX_TRIALS = 300;
/** Adaptive sweeps stop here (each batch refits the map twice, so long runs are slow). */
const MAX_ADAPTIVE_TRIALS = 200;

interface PhaseOracle {
  name: string;
  /** Two axes, with their spec parameters. */
  parameters: Record<string, ParameterSpec>;
  fixed: Record<string, unknown>;
  axes: Axis[];
  phaseAt(x: readonly number[]): Phase;
}

export interface MethodResult {
  /** Trials needed per seed (null: not reached within MAX_TRIALS). */
  trials: (number | null)[];
  median: number | null;
  /** Largest number of trials tried. */
  cap: number;
}

export interface PhaseBenchRow {
  oracle: string;
  /** Per agreement target: trials each method needed. */
  targets: { target: number; grid: MethodResult; random: MethodResult; adaptive: MethodResult }[];
  /** Adaptive with its own stop rule: trials at stop and agreement then (per seed). */
  adaptiveStop: { trials: number; agreement: number }[];
  /** Agreement of the map fitted on every cell of a reference grid (the best a map of this model does), when there is one. */
  ceiling: number | null;
}

export interface BayesBenchRow {
  trials: number;
  bayes: number;
  random: number;
  tpe: number | null;
}

export interface SamplingBenchResult {
  phase: PhaseBenchRow[];
  bayes: BayesBenchRow[];
  tpeNote?: string;
}

function syntheticOracle(): PhaseOracle {
  const parameters: Record<string, ParameterSpec> = {
    weight_decay: { distribution: 'log_uniform_values', min: 0.003, max: 30 },
    data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
  };
  const axes = Object.entries(parameters).map(([name, p]) => axisFor(name, [], p));
  return {
    name: 'synthetic wd × data_fraction',
    parameters,
    fixed: { model_size: 128, max_steps: 20000, eval_every: 50 },
    axes,
    phaseAt: ([wd, f]) =>
      groundTruthPhase({
        weight_decay: wd!,
        data_fraction: f!,
        model_size: 128,
        max_steps: 20000,
        eval_every: 50,
      }),
  };
}

function referenceOracle(json: unknown, name: string): PhaseOracle {
  const grid = loadReferenceGrid(json, name);
  const specFor = (values: number[]): ParameterSpec => {
    const min = Math.min(...values);
    const max = Math.max(...values);
    return min > 0 && max / min >= 20
      ? { distribution: 'log_uniform_values', min, max }
      : { distribution: 'uniform', min, max };
  };
  const parameters = {
    [grid.rows.param]: specFor(grid.rows.values),
    [grid.cols.param]: specFor(grid.cols.values),
  };
  const axes = [grid.rows, grid.cols].map((a) => axisFor(a.param, [], parameters[a.param]!));
  const nearest = (axis: Axis, values: number[], v: number) => {
    const u = normalise(axis, v);
    let best = 0;
    values.forEach((w, i) => {
      if (Math.abs(normalise(axis, w) - u) < Math.abs(normalise(axis, values[best]!) - u)) best = i;
    });
    return best;
  };
  return {
    name: `liu2022 ${name.replace('liu2022-addition-', '')}`,
    parameters,
    fixed: {},
    axes,
    phaseAt: ([r, c]) => {
      const row = nearest(axes[0]!, grid.rows.values, r!);
      const col = nearest(axes[1]!, grid.cols.values, c!);
      return grid.cells[row * grid.cols.values.length + col]!.phase;
    },
  };
}

/** Scores phase maps against an oracle on a dense grid. */
class Scorer {
  private readonly grid: number[][];
  private readonly truth: Phase[];
  constructor(private readonly oracle: PhaseOracle) {
    this.grid = [];
    for (let i = 0; i < EVAL_RES; i++) {
      for (let j = 0; j < EVAL_RES; j++) {
        this.grid.push([
          denormalise(oracle.axes[0]!, (i + 0.5) / EVAL_RES),
          denormalise(oracle.axes[1]!, (j + 0.5) / EVAL_RES),
        ]);
      }
    }
    this.truth = this.grid.map((x) => oracle.phaseAt(x));
  }
  agreement(points: readonly PhasePoint[]): number {
    if (points.length === 0) return 0;
    const model = fitPhaseMap(points, this.oracle.axes);
    const cells = predictPhaseMap(model, this.grid);
    let same = 0;
    cells.forEach((c, i) => {
      if (c.phase === this.truth[i]) same++;
    });
    return same / cells.length;
  }
}

function toPoint(oracle: PhaseOracle, u: readonly number[]): PhasePoint {
  const x = u.map((v, d) => denormalise(oracle.axes[d]!, v));
  return { x, phase: oracle.phaseAt(x) };
}

/** First trial counts at which each target is reached (null: not yet). */
class Hits {
  readonly first: (number | null)[] = TARGETS.map(() => null);
  record(trials: number, agreement: number): void {
    TARGETS.forEach((t, i) => {
      if (this.first[i] === null && agreement >= t) this.first[i] = trials;
    });
  }
  get done(): boolean {
    return this.first.every((f) => f !== null);
  }
}

function gridTrials(oracle: PhaseOracle, scorer: Scorer): (number | null)[] {
  const hits = new Hits();
  for (let k = 2; k * k <= MAX_TRIALS && !hits.done; k++) {
    const points: PhasePoint[] = [];
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) points.push(toPoint(oracle, [i / (k - 1), j / (k - 1)]));
    hits.record(k * k, scorer.agreement(points));
  }
  return hits.first;
}

function randomTrials(oracle: PhaseOracle, scorer: Scorer, seed: number): (number | null)[] {
  const hits = new Hits();
  const points: PhasePoint[] = [];
  for (let n = 8; n <= MAX_TRIALS && !hits.done; n += Math.max(4, Math.round(n * 0.1))) {
    while (points.length < n) {
      const rand = streamFor(seed, points.length, 'bench-random');
      points.push(toPoint(oracle, [rand(), rand()]));
    }
    hits.record(n, scorer.agreement(points));
  }
  return hits.first;
}

function adaptiveSpec(oracle: PhaseOracle, seed: number, batch: number, stop = true): SweepSpec {
  return sweepSpecSchema.parse({
    name: 'bench-adaptive',
    trainer: 'synthetic',
    method: 'adaptive',
    seed,
    budget: { trials: MAX_ADAPTIVE_TRIALS, parallel: batch },
    parameters: oracle.parameters,
    fixed: oracle.fixed,
    adaptive: { batch, ...(stop ? {} : { stop_when: { max_change: 0, patience: 100 } }) },
  });
}

function phasePointsOf(oracle: PhaseOracle, state: SamplerState): PhasePoint[] {
  return state.observations.map((o) => {
    const x = oracle.axes.map((a) => Number(o.point[a.name]));
    return { x, phase: o.phase! };
  });
}

/**
 * An adaptive sweep in batches of `batch`, scored after each; it runs on to
 * its own stop rule (or until every target is reached, if that comes later).
 */
function adaptiveTrials(
  oracle: PhaseOracle,
  scorer: Scorer,
  seed: number,
  batch = 4,
): { trials: (number | null)[]; stop: { trials: number; agreement: number } } {
  let spec = adaptiveSpec(oracle, seed, batch);
  let state = initialSamplerState(spec);
  const hits = new Hits();
  let agreement = 0;
  let stop: { trials: number; agreement: number } | undefined;
  while (state.nextIndex < MAX_ADAPTIVE_TRIALS) {
    const proposal = proposeTrials(spec, 'bench', state, batch);
    state = proposal.state;
    if (proposal.trials.length > 0) {
      state = observeTrials(
        state,
        proposal.trials.map((t) => ({
          index: t.index,
          status: 'completed' as const,
          phase: oracle.phaseAt(oracle.axes.map((a) => Number(t.params[a.name]))),
          metric: null,
        })),
      );
      agreement = scorer.agreement(phasePointsOf(oracle, state));
      hits.record(state.observations.length, agreement);
    }
    if (proposal.exhausted || proposal.trials.length === 0) {
      if (stop) break;
      stop = { trials: state.observations.length, agreement };
      // Past the stop rule, go on (without it) only to see where the targets are reached.
      spec = adaptiveSpec(oracle, seed, batch, false);
      state = { ...state, converged: false };
    }
    if (stop && hits.done) break;
  }
  return { trials: hits.first, stop: stop ?? { trials: state.observations.length, agreement } };
}

function summary(trials: (number | null)[], cap = MAX_TRIALS): MethodResult {
  const sorted = trials.map((t) => t ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return { trials, median: Number.isFinite(mid) ? mid : null, cap };
}

function benchPhaseMaps(seeds: number[]): PhaseBenchRow[] {
  const oracles: { oracle: PhaseOracle; cells: PhasePoint[] | null }[] = [
    { oracle: syntheticOracle(), cells: null },
  ];
  if (existsSync(REFERENCE)) {
    const json = JSON.parse(readFileSync(REFERENCE, 'utf8')) as unknown;
    for (const name of referenceGridNames(json)) {
      const grid = loadReferenceGrid(json, name);
      oracles.push({
        oracle: referenceOracle(json, name),
        cells: grid.cells.map((c) => ({
          x: [c.params[grid.rows.param]!, c.params[grid.cols.param]!],
          phase: c.phase,
        })),
      });
    }
  }
  return oracles.map(({ oracle, cells }) => {
    process.stderr.write(`phase maps: ${oracle.name}…\n`);
    const scorer = new Scorer(oracle);
    const grid = gridTrials(oracle, scorer);
    const random = seeds.map((s) => randomTrials(oracle, scorer, s));
    const adaptive = seeds.map((s) => adaptiveTrials(oracle, scorer, s));
    return {
      oracle: oracle.name,
      targets: TARGETS.map((target, i) => ({
        target,
        grid: summary([grid[i]!]),
        random: summary(random.map((r) => r[i]!)),
        adaptive: summary(
          adaptive.map((a) => a.trials[i]!),
          MAX_ADAPTIVE_TRIALS,
        ),
      })),
      adaptiveStop: adaptive.map((a) => a.stop),
      ceiling: cells ? scorer.agreement(cells) : null,
    };
  });
}

// ---- bayes -------------------------------------------------------------------------------

const BAYES_PARAMETERS: Record<string, ParameterSpec> = {
  weight_decay: { distribution: 'log_uniform_values', min: 0.003, max: 30 },
  data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
  model_size: { distribution: 'categorical', values: [64, 128, 256, 512] },
};
const TABLE_RES = 201;
const MODEL_SIZES = [64, 128, 256, 512];
const MAX_STEPS = 20000;

interface MetricTable {
  wd: [number, number];
  f: [number, number];
  sizes: number[];
  res: number;
  /** values[size][i][j]: steps_to_generalize at wd_i (log-spaced), f_j. */
  values: number[][][];
}

function metricTable(): MetricTable {
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

function lookup(table: MetricTable, params: Record<string, unknown>): number {
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

function bayesSpec(method: 'bayes' | 'random', seed: number, trials: number): SweepSpec {
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

import { table } from './text-table.js';

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

function benchBayes(seeds: number[], checkpoints: number[]): { rows: BayesBenchRow[]; tpeNote?: string } {
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

// ---- report ------------------------------------------------------------------------------

function formatTrials(r: MethodResult): string {
  const per = r.trials.map((t) => (t === null ? `>${r.cap}` : String(t))).join(' ');
  return `${r.median === null ? `>${r.cap}` : r.median} (${per})`;
}

function ratio(r: MethodResult, grid: MethodResult): string {
  return r.median === null || grid.median === null ? '—' : (r.median / grid.median).toFixed(2);
}

export function formatSamplingBench(result: SamplingBenchResult): string {
  const lines: string[] = [];
  lines.push(`Trials until the estimated phase map agrees with the oracle on a ${EVAL_RES}×${EVAL_RES} grid`);
  lines.push('(median over seeds, per-seed values in brackets; ratio = median / grid)');
  lines.push('');
  const header = ['oracle', 'target', 'grid', 'random', 'adaptive', 'random/grid', 'adaptive/grid'];
  const rows = result.phase.flatMap((r) =>
    r.targets.map((t) => [
      r.oracle,
      `${t.target * 100}%`,
      formatTrials(t.grid),
      formatTrials(t.random),
      formatTrials(t.adaptive),
      ratio(t.random, t.grid),
      ratio(t.adaptive, t.grid),
    ]),
  );
  lines.push(...table([header, ...rows]));
  lines.push('');
  lines.push('Adaptive with its own stop rule (max_change 0.01, patience 2): trials @ agreement, per seed;');
  lines.push('ceiling: agreement of the map fitted on every cell of the reference grid.');
  for (const r of result.phase) {
    const stops = r.adaptiveStop.map((s) => `${s.trials}@${(s.agreement * 100).toFixed(1)}%`).join(' ');
    const ceiling = r.ceiling === null ? '' : `  ceiling ${(r.ceiling * 100).toFixed(1)}%`;
    lines.push(`  ${r.oracle}: ${stops}${ceiling}`);
  }
  lines.push('');
  lines.push('Bayes: mean best steps_to_generalize (synthetic, noise-free; lower is better)');
  lines.push(
    ...table([
      ['trials', 'bayes', 'random', 'optuna TPE'],
      ...result.bayes.map((r) => [
        String(r.trials),
        r.bayes.toFixed(0),
        r.random.toFixed(0),
        r.tpe === null ? '—' : r.tpe.toFixed(0),
      ]),
    ]),
  );
  if (result.tpeNote) lines.push(result.tpeNote);
  return lines.join('\n');
}

export async function benchSampling(options: { quick?: boolean } = {}): Promise<SamplingBenchResult> {
  const seeds = options.quick ? [0, 1, 2] : [0, 1, 2, 3, 4];
  const phase = benchPhaseMaps(seeds);
  const bayes = benchBayes(
    options.quick ? [0, 1, 2] : Array.from({ length: 10 }, (_, i) => i),
    [10, 20, 30, 50],
  );
  const result: SamplingBenchResult = {
    phase,
    bayes: bayes.rows,
    ...(bayes.tpeNote ? { tpeNote: bayes.tpeNote } : {}),
  };
  process.stdout.write(`${formatSamplingBench(result)}\n`);
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchSampling({ quick: process.argv.includes('--quick') });
}
