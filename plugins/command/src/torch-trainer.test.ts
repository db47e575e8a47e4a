import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestContext, type TrialOutcome } from '@grokmap/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createCommandTrainer } from './command-trainer.js';
import { commandTrainerConfigs } from './config.js';
import { parseLine } from './protocol.js';
import { canImport, projectPython, repoRoot, runPythonTests } from './test-python.js';

// examples/torch_modular.py and bench/gpu/pack_bench.py need PyTorch. Where
// the project's python has it (GPU machines) these tests use it; elsewhere
// (CI) they run the same scripts on test/fake-torch, a numpy stand-in for the
// few torch calls they make: that checks the scripts' own logic (packing,
// AdamW, checkpoints, the protocol, the benchmark's report), not PyTorch.
const torchScript = join(repoRoot, 'examples/torch_modular.py');
const numpyScript = join(repoRoot, 'examples/numpy_modular.py');
const { python, problem } = projectPython();
const realTorch = python !== undefined && canImport(python, 'torch');
const pythonEnv: Record<string, string> = realTorch
  ? {}
  : { PYTHONPATH: join(repoRoot, 'plugins/command/test/fake-torch') };
const which = realTorch ? 'PyTorch' : 'numpy stand-in for torch';

const params = {
  p: 11,
  embed_dim: 8,
  model_size: 16,
  lr: 0.01,
  data_fraction: 0.6,
  max_steps: 120,
  eval_every: 20,
  checkpoint_every: 50,
  seed: 3,
};

function trainer(script: string) {
  if (!python) throw new Error(problem);
  return createCommandTrainer({
    name: 'modular',
    program: python,
    args: [script],
    env: { ...pythonEnv, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
}

function close(a: TrialOutcome['final'], b: { trainAcc: number; valAcc: number }) {
  expect(Math.abs(a.trainAcc - b.trainAcc)).toBeLessThanOrEqual(0.05);
  expect(Math.abs(a.valAcc - b.valAcc)).toBeLessThanOrEqual(0.05);
}

describe.runIf(runPythonTests(python))(`torch_modular.py (${which})`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'grokmap-torch-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trains the numpy example’s model from the same split and initial weights', async () => {
    const ctx = createTestContext();
    const viaTorch = await trainer(torchScript).train(params, ctx);
    const viaNumpy = await trainer(numpyScript).train(params, createTestContext());
    expect(viaTorch.status, viaTorch.reason).toBe('completed');
    expect(viaTorch.backend).toMatch(/^torch-/);
    expect(viaTorch.extra?.n_train).toBe(viaNumpy.extra?.n_train);
    expect(viaTorch.curves.map((c) => c.step)).toEqual(viaNumpy.curves.map((c) => c.step));
    // Step 0 is the initial model: the same weights give the same predictions.
    expect(viaTorch.curves[0]!.trainAcc).toBeCloseTo(viaNumpy.curves[0]!.trainAcc, 6);
    close(viaTorch.final, viaNumpy.final);
    expect(ctx.saved.map((c) => c.step)).toEqual([50, 100]);
  }, 120_000);

  it('resumes from its checkpoint to the end an uninterrupted run reaches', async () => {
    const full = createTestContext();
    const uninterrupted = await trainer(torchScript).train(params, full);
    const checkpoint = full.saved[0]!;
    const ctx = createTestContext({ attempt: 2, initialCheckpoint: checkpoint });
    const resumed = await trainer(torchScript).train(params, ctx);
    expect(resumed.status, resumed.reason).toBe('completed');
    expect(ctx.reports[0]!.step).toBeGreaterThan(checkpoint.step);
    expect(resumed.firstStepAtThreshold).toEqual(uninterrupted.firstStepAtThreshold);
    close(resumed.final, uninterrupted.final);
    expect(resumed.curves.map((c) => c.step)).toEqual(uninterrupted.curves.map((c) => c.step));
  }, 120_000);

  it('packs trials: one process, per-trial lines, each trial as if trained alone', async () => {
    const checkpointDir = join(dir, 'pack-ckpt');
    await mkdir(checkpointDir);
    const variants = [
      { trial_id: 'sweep/a', params: { ...params, weight_decay: 0.1 } },
      { trial_id: 'sweep/b', params: { ...params, weight_decay: 1, seed: 4 } },
      { trial_id: 'sweep/c', params: { ...params, data_fraction: 0.3, lr: 0.003 } },
    ];
    const paramsFile = join(dir, 'pack.json');
    await writeFile(
      paramsFile,
      JSON.stringify({
        protocol: 1,
        trial_id: 'pack',
        attempt: 1,
        params: {},
        threshold: 0.99,
        checkpoint_dir: checkpointDir,
        resume: null,
        device: { kind: 'cpu' },
        trials: variants.map((v) => ({ ...v, resume: null })),
      }),
    );
    const run = spawnSync(python!, [torchScript], {
      env: {
        ...process.env,
        ...pythonEnv,
        GROKMAP_PROTOCOL: '1',
        GROKMAP_PARAMS_FILE: paramsFile,
        CUDA_VISIBLE_DEVICES: '',
      },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const messages = run.stdout
      .trim()
      .split('\n')
      .map((line, i) => {
        const parsed = parseLine(line, i + 1);
        if (!parsed.ok) throw new Error(parsed.error);
        return parsed.message;
      });
    expect(messages.filter((m) => m.type !== 'log').every((m) => m.trial_id !== undefined)).toBe(true);
    for (const v of variants) {
      const mine = messages.filter((m) => m.trial_id === v.trial_id);
      expect(mine.filter((m) => m.type === 'checkpoint').map((m) => m.step)).toEqual([50, 100]);
      const result = mine.find((m) => m.type === 'result');
      if (result?.type !== 'result') throw new Error(`no result for ${v.trial_id}`);
      expect(result).toMatchObject({ status: 'completed', steps: params.max_steps, extra: { pack_size: 3 } });
      const alone = await trainer(numpyScript).train(v.params, createTestContext());
      expect(result.first_step_at_threshold).toEqual(alone.firstStepAtThreshold);
      close({ trainAcc: result.final!.train_acc, valAcc: result.final!.val_acc }, alone.final);
    }
  }, 180_000);

  it('is packed by examples/command-trainers.yaml along exactly its SHAPE_KEYS', async () => {
    const doc = parseYaml(await readFile(join(repoRoot, 'examples/command-trainers.yaml'), 'utf8'));
    const config = commandTrainerConfigs(doc, join(repoRoot, 'examples')).find(
      (c) => c.name === 'torch-modular',
    );
    const run = spawnSync(
      python!,
      ['-c', 'import json, torch_modular; print(json.dumps(torch_modular.SHAPE_KEYS))'],
      {
        cwd: join(repoRoot, 'examples'),
        env: { ...process.env, ...pythonEnv },
        encoding: 'utf8',
      },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(config?.pack?.shapeKeys).toEqual(JSON.parse(run.stdout));
  });

  it('runs the GPU pack benchmark in its CPU smoke mode', async () => {
    const out = join(dir, 'bench-out');
    const run = spawnSync(python!, [join(repoRoot, 'bench/gpu/pack_bench.py'), '--smoke'], {
      env: { ...process.env, ...pythonEnv, OUT: out },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'pack_bench.json'), 'utf8'));
    expect(report.throughput.map((t: { pack: number }) => t.pack)).toEqual([1, 2, 4]);
    expect(report.throughput.every((t: { steps_per_s: number }) => t.steps_per_s > 0)).toBe(true);
    expect(report.pack_equivalence.pack).toBe(4);
    expect(report.pack_equivalence.max_abs_diff.train_acc).toBeLessThanOrEqual(0.05);
    expect(report.phase_diagram.trials).toBe(2 * 2 * 2);
    expect(report.phase_diagram.runs).toHaveLength(2 * 2 * 2);
    expect(await readFile(join(out, 'pack_bench.md'), 'utf8')).toContain('speed-up vs 1 trial');
  }, 180_000);
});
