/**
 * Benchmark: steps per second of the modular-arithmetic trainer (TensorFlow.js,
 * wasm backend, one thread) against a numpy reference of the same model and the
 * same full-batch AdamW step (bench/reference/modular_numpy.py, OpenBLAS pinned
 * to one thread), on the same machine in the same run.
 *
 *   npx tsx bench/trainer.ts [--p 31,97] [--models mlp,transformer] [--steps 10] [--warmup 10] [--rounds 2] [--no-pair] [--json]
 *   pnpm bench trainer …   (the root dispatcher calls benchTrainer)
 *
 * Every measurement runs in its own process, so each has its own peak RSS and
 * the wasm heap of one configuration does not inflate the next. The runs of
 * one configuration are interleaved (tfjs, numpy, tfjs, numpy…) so that load
 * from other work on the machine falls on both sides alike; each cell is the
 * median over rounds of the per-process median step time.
 *
 * numpy is measured twice for the MLP: `lookup` is the algorithm the trainer
 * uses (first layer as a p-row product plus row lookups), `dense` the textbook
 * N-row product over concatenated embeddings (how DESIGN.md's 68 ms was taken).
 *
 * JAX on the CPU, where the Python used can `import jax`, adds `jax` (and for the
 * MLP `jax-dense`) rows: bench/reference/modular_jax.py, the same models,
 * initial weights and AdamW step with jax.value_and_grad, jit-compiled into one
 * XLA function, float32, XLA kept to one thread (its docstring says how). jax
 * is not in bench/requirements.txt (it is large); add it with
 * `<venv>/bin/pip install "jax[cpu]"` (default venv: .grokmap/venv). Without it
 * the bench prints one line saying so. Its "vs numpy" is against numpy as well.
 *
 * Both wall and CPU time are recorded per step: on a machine shared with other
 * work the wall-clock ratio swings with the load, CPU time much less.
 *
 * `tfjs-wasm ×2` runs two trainer processes at once, as a worker with two
 * trials on a two-core machine does: its ms/step is per process, and "busy"
 * is CPU time over wall time of the timed steps, summed over both (2.00 = both
 * cores busy the whole time). `--no-pair` leaves it out.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

export interface BenchTrainerArgs {
  /** Primes to measure (default 31 and 97). */
  ps?: number[];
  models?: Array<'mlp' | 'transformer'>;
  /** Timed steps per process (after warm-up steps). */
  steps?: number;
  warmup?: number;
  /** Processes per implementation and configuration, interleaved. */
  rounds?: number;
  /** Also time two tfjs processes running at once (default true). */
  pair?: boolean;
  /** Python with numpy; default: .grokmap/venv, created from bench/requirements.txt if missing. */
  python?: string;
  /** Where progress and the table go; default stdout. */
  print?: (line: string) => void;
}

export interface BenchRow {
  model: 'mlp' | 'transformer';
  p: number;
  examples: number;
  implementation: string;
  /** Processes running at once (2 for `tfjs-wasm ×2`); times are per process. */
  processes: number;
  msPerStep: number;
  cpuMsPerStep: number;
  stepsPerSecond: number;
  peakRssMb: number;
  /** steps/s of this implementation ÷ steps/s of numpy with the same algorithm. */
  ratioToNumpy: number;
  /** The same ratio in CPU time per step. */
  cpuRatioToNumpy: number;
  /** CPU time ÷ wall time of the timed steps, summed over the processes. */
  busyCores: number;
}

interface Measurement {
  ms_per_step: number;
  cpu_ms_per_step: number;
  /** CPU ÷ wall time over the timed steps (numpy: derived from the medians). */
  busy?: number;
  peak_rss_mb: number;
  examples: number;
}

interface Config {
  model: 'mlp' | 'transformer';
  p: number;
}

const PAIR = 'tfjs-wasm ×2';

const MODEL_SHAPE = {
  mlp: { model_size: 512, embed_dim: 128, depth: 1 },
  transformer: { model_size: 128, heads: 4, depth: 1 },
} as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function parseJsonLine(stdout: string, what: string): Measurement {
  const line = stdout.trim().split('\n').filter(Boolean).at(-1);
  if (!line) throw new Error(`${what}: no output`);
  return JSON.parse(line) as Measurement;
}

/** A Python with numpy: the given one, or the repository venv (created on first use). */
export function ensurePython(print: (line: string) => void): string {
  const venv = join(root, '.grokmap', 'venv');
  const python = join(venv, 'bin', 'python');
  const hasNumpy = () =>
    existsSync(python) && spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
  if (hasNumpy()) return python;
  print(`setting up ${venv} from bench/requirements.txt …`);
  const script =
    `[ -x "${python}" ] || python3 -m venv "${venv}"; ` +
    `"${python}" -m pip install --disable-pip-version-check -q -r "${join(root, 'bench', 'requirements.txt')}"`;
  // Serialize with other users of the venv (plugins/command/scripts/ensure-python.sh uses the same lock).
  const lock = `${venv}.lock`;
  const r = spawnSync('flock', [lock, 'sh', '-c', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) spawnSync('sh', ['-c', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (!hasNumpy()) throw new Error(`could not set up numpy in ${venv}`);
  return python;
}

/** One tfjs child process (asynchronous, so that two can run at once). */
function runTfjs(cfg: Config, steps: number, warmup: number): Promise<Measurement> {
  const file = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', file, '--child', JSON.stringify({ ...cfg, steps, warmup })],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`tfjs child failed (${code}): ${stderr.slice(-2000)}`));
      else resolvePromise(parseJsonLine(stdout, 'tfjs child'));
    });
  });
}

/** Two tfjs processes at once: per-process medians, peak of the two, busy cores summed. */
async function runTfjsPair(cfg: Config, steps: number, warmup: number): Promise<Measurement> {
  const both = await Promise.all([runTfjs(cfg, steps, warmup), runTfjs(cfg, steps, warmup)]);
  return {
    ms_per_step: median(both.map((m) => m.ms_per_step)),
    cpu_ms_per_step: median(both.map((m) => m.cpu_ms_per_step)),
    busy: both.reduce((sum, m) => sum + (m.busy ?? 0), 0),
    peak_rss_mb: Math.max(...both.map((m) => m.peak_rss_mb)),
    examples: both[0]!.examples,
  };
}

/** Whether `python` can import jax (for the jax rows). */
export function hasJax(python: string): boolean {
  return spawnSync(python, ['-c', 'import jax'], { stdio: 'ignore' }).status === 0;
}

/** How to add jax to the venv of `python`. */
function jaxInstallHint(python: string): string {
  const pip = join(dirname(python), 'pip');
  return existsSync(pip) ? `${pip} install "jax[cpu]"` : `${python} -m pip install "jax[cpu]"`;
}

/** One run of a Python reference: modular_numpy.py or modular_jax.py (same flags, same JSON line). */
function runReference(
  python: string,
  reference: 'numpy' | 'jax',
  cfg: Config,
  algorithm: 'lookup' | 'dense',
  steps: number,
  warmup: number,
) {
  const shape = MODEL_SHAPE[cfg.model];
  const args = [
    join(root, 'bench', 'reference', `modular_${reference}.py`),
    ...['--model', cfg.model, '--p', String(cfg.p), '--size', String(shape.model_size)],
    ...['--depth', String(shape.depth), '--algorithm', algorithm],
    ...['--steps', String(steps), '--warmup', String(warmup)],
    ...(cfg.model === 'mlp' ? ['--embed', String(MODEL_SHAPE.mlp.embed_dim)] : ['--heads', '4']),
  ];
  const env = {
    ...process.env,
    OPENBLAS_NUM_THREADS: '1',
    OMP_NUM_THREADS: '1',
    MKL_NUM_THREADS: '1',
    VECLIB_MAXIMUM_THREADS: '1',
  };
  const r = spawnSync(python, args, { cwd: root, encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0)
    throw new Error(`${reference} reference failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return parseJsonLine(r.stdout, `${reference} reference`);
}

/** Child process: time the trainer's own update on a full batch, print one JSON line. */
async function child(spec: Config & { steps: number; warmup: number }): Promise<void> {
  const { modularArithmeticParams } = await import('../plugins/modular-arithmetic/src/params.js');
  const { createStepper } = await import('../plugins/modular-arithmetic/src/train.js');
  const params = modularArithmeticParams.parse({
    model: spec.model,
    p: spec.p,
    data_fraction: 0.5,
    backend: 'wasm',
    ...MODEL_SHAPE[spec.model],
  });
  const stepper = await createStepper(params);
  const times: number[] = [];
  const cpu: number[] = [];
  let wallTotal = 0;
  let cpuTotal = 0;
  for (let i = 0; i < spec.warmup + spec.steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const loss = stepper.step();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (i >= spec.warmup) {
      times.push(wall);
      cpu.push((c.user + c.system) / 1000);
      wallTotal += wall;
      cpuTotal += (c.user + c.system) / 1000;
    }
    if (!Number.isFinite(loss)) throw new Error(`loss ${loss} at step ${i + 1}`);
  }
  stepper.dispose();
  const out: Measurement & { backend: string } = {
    ms_per_step: median(times),
    cpu_ms_per_step: median(cpu),
    busy: cpuTotal / wallTotal,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    examples: stepper.examples,
    backend: stepper.backend,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function parseArgv(argv: string[]): BenchTrainerArgs {
  const out: BenchTrainerArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--p' && value) out.ps = value.split(',').map(Number);
    else if (flag === '--models' && value) out.models = value.split(',') as BenchTrainerArgs['models'];
    else if (flag === '--steps' && value) out.steps = Number(value);
    else if (flag === '--warmup' && value) out.warmup = Number(value);
    else if (flag === '--rounds' && value) out.rounds = Number(value);
    else if (flag === '--python' && value) out.python = value;
    else if (flag === '--no-pair') {
      out.pair = false;
      continue;
    } else continue;
    i++;
  }
  return out;
}

const fmt = (x: number, digits = 1, width = 9) => x.toFixed(digits).padStart(width);

/**
 * Measure and print the table; returns the rows. Accepts options or the
 * command-line words after `pnpm bench trainer`.
 */
export async function benchTrainer(input: BenchTrainerArgs | string[] = {}): Promise<BenchRow[]> {
  const args = Array.isArray(input) ? parseArgv(input) : input;
  const print = args.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const ps = args.ps ?? [31, 97];
  const models = args.models ?? ['mlp', 'transformer'];
  const steps = args.steps ?? 10;
  // Trials run thousands of steps: time the steady state, after V8 has tiered up the wasm and JS (~10 steps).
  const warmup = args.warmup ?? 10;
  const rounds = args.rounds ?? 2;
  const pair = args.pair ?? true;
  const python = args.python ?? ensurePython(print);
  const jax = hasJax(python);
  if (!jax) print(`JAX not found in ${python}: no jax rows (to add them: ${jaxInstallHint(python)})`);

  const rows: BenchRow[] = [];
  for (const model of models) {
    for (const p of ps) {
      const cfg: Config = { model, p };
      const impls: Array<[string, () => Measurement | Promise<Measurement>]> = [
        ['tfjs-wasm', () => runTfjs(cfg, steps, warmup)],
        ['numpy', () => runReference(python, 'numpy', cfg, 'lookup', steps, warmup)],
      ];
      if (jax) impls.push(['jax', () => runReference(python, 'jax', cfg, 'lookup', steps, warmup)]);
      if (model === 'mlp') {
        impls.push(['numpy-dense', () => runReference(python, 'numpy', cfg, 'dense', steps, warmup)]);
        if (jax) impls.push(['jax-dense', () => runReference(python, 'jax', cfg, 'dense', steps, warmup)]);
      }
      if (pair) impls.push([PAIR, () => runTfjsPair(cfg, steps, warmup)]);
      const results = new Map<string, Measurement[]>(impls.map(([name]) => [name, []]));
      for (let r = 0; r < rounds; r++) {
        for (const [name, run] of impls) {
          print(`  ${model} p=${p} ${name} (round ${r + 1}/${rounds}) …`);
          results.get(name)!.push(await run());
        }
      }
      const med = (name: string, key: 'ms_per_step' | 'cpu_ms_per_step') =>
        median(results.get(name)!.map((m) => m[key]));
      const reference = med('numpy', 'ms_per_step');
      const referenceCpu = med('numpy', 'cpu_ms_per_step');
      for (const [name] of impls) {
        const ms1 = med(name, 'ms_per_step');
        const cpu1 = med(name, 'cpu_ms_per_step');
        const ms_ = results.get(name)!;
        const processes = name === PAIR ? 2 : 1;
        rows.push({
          model,
          p,
          examples: ms_[0]!.examples,
          implementation: name,
          processes,
          msPerStep: ms1,
          cpuMsPerStep: cpu1,
          stepsPerSecond: 1000 / ms1,
          peakRssMb: Math.max(...ms_.map((m) => m.peak_rss_mb)),
          ratioToNumpy: reference / ms1,
          cpuRatioToNumpy: referenceCpu / cpu1,
          busyCores: median(ms_.map((m) => m.busy ?? (processes * m.cpu_ms_per_step) / m.ms_per_step)),
        });
      }
    }
  }

  print('');
  print('modular-arithmetic full-batch training step (50% of pairs), one thread each');
  print(
    `MLP: embeddings ${MODEL_SHAPE.mlp.embed_dim}×2 → ${MODEL_SHAPE.mlp.model_size} ReLU → p; ` +
      `transformer: d_model ${MODEL_SHAPE.transformer.model_size}, 4 heads, 1 block, MLP 4×`,
  );
  print(
    `${'model'.padEnd(12)}${'p'.padStart(4)}${'N'.padStart(6)}  ${'implementation'.padEnd(14)}` +
      `${'ms/step'.padStart(9)}${'steps/s'.padStart(9)}${'vs numpy'.padStart(9)}` +
      `${'cpu ms'.padStart(9)}${'vs (cpu)'.padStart(9)}${'busy'.padStart(6)}${'peak RSS MB'.padStart(12)}`,
  );
  for (const r of rows) {
    print(
      `${r.model.padEnd(12)}${String(r.p).padStart(4)}${String(r.examples).padStart(6)}  ${r.implementation.padEnd(14)}` +
        `${fmt(r.msPerStep)}${fmt(r.stepsPerSecond, 2)}${fmt(r.ratioToNumpy, 2)}` +
        `${fmt(r.cpuMsPerStep)}${fmt(r.cpuRatioToNumpy, 2)}${fmt(r.busyCores, 2, 6)}${fmt(r.peakRssMb, 0, 12)}`,
    );
  }
  print(
    '"vs numpy" = steps/s ÷ steps/s of numpy with the same algorithm (1.00 = as fast; ≥ 0.5 is the target); ' +
      '"vs (cpu)" the same in CPU time per step.',
  );
  if (jax)
    print('"jax": one jit-compiled XLA step on the CPU, one thread; compiling falls in the warm-up steps.');
  print(
    `"${PAIR}": two trainer processes at once, times per process; "busy" = CPU ÷ wall time summed over processes.`,
  );
  return rows;
}

const invokedDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    await child(JSON.parse(argv[1]!));
  } else {
    const rows = await benchTrainer(argv);
    if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(rows)}\n`);
  }
}
