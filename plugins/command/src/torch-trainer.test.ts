import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestContext } from '@grokmap/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandTrainer } from './command-trainer.js';
import { parseLine } from './protocol.js';

// examples/torch_modular.py and bench/gpu/pack_bench.py need PyTorch, which
// is optional (GPU machines have it; this project's CI machines do not), so
// these tests run only where `import torch` works in the project's python.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const torchScript = join(root, 'examples/torch_modular.py');
const numpyScript = join(root, 'examples/numpy_modular.py');

function pythonWithTorch(): string | undefined {
  try {
    const python = execFileSync(join(root, 'plugins/command/scripts/ensure-python.sh'), {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .trim()
      .split('\n')
      .pop()!;
    return spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0 ? python : undefined;
  } catch {
    return undefined;
  }
}
const python = pythonWithTorch();

const params = {
  p: 23,
  embed_dim: 32,
  model_size: 64,
  lr: 0.003,
  data_fraction: 0.6,
  max_steps: 200,
  eval_every: 50,
  checkpoint_every: 100,
  seed: 3,
};

describe.skipIf(python === undefined)('torch_modular.py (needs PyTorch)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'grokmap-torch-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const trainer = (script: string) =>
    createCommandTrainer({
      name: 'modular',
      program: python!,
      args: [script],
      env: { OMP_NUM_THREADS: '1' },
    });

  it('trains the numpy example’s model: same split and init, nearly the same run', async () => {
    const torchCtx = createTestContext();
    const viaTorch = await trainer(torchScript).train(params, torchCtx);
    const viaNumpy = await trainer(numpyScript).train(params, createTestContext());
    expect(viaTorch.status, viaTorch.reason).toBe('completed');
    expect(viaTorch.backend).toMatch(/^torch-/);
    expect(viaTorch.extra?.n_train).toBe(viaNumpy.extra?.n_train);
    expect(viaTorch.curves.map((c) => c.step)).toEqual(viaNumpy.curves.map((c) => c.step));
    expect(Math.abs(viaTorch.final.trainAcc - viaNumpy.final.trainAcc)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(viaTorch.final.valAcc - viaNumpy.final.valAcc)).toBeLessThanOrEqual(0.02);
    expect(torchCtx.saved.map((c) => c.step)).toEqual([100]);
  }, 120_000);

  it('packs trials: one process, per-trial lines, each trial as if trained alone', async () => {
    const checkpointDir = join(dir, 'pack-ckpt');
    await mkdir(checkpointDir);
    const variants = [
      { trial_id: 'a', params: { ...params, weight_decay: 0.1 } },
      { trial_id: 'b', params: { ...params, weight_decay: 1, seed: 4 } },
      { trial_id: 'c', params: { ...params, data_fraction: 0.3 } },
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
    for (const v of variants) {
      const mine = messages.filter((m) => m.trial_id === v.trial_id);
      expect(mine.filter((m) => m.type === 'checkpoint').map((m) => m.step)).toEqual([100]);
      const result = mine.find((m) => m.type === 'result');
      expect(result).toMatchObject({ status: 'completed', steps: 200, extra: { pack_size: 3 } });
      const alone = await trainer(torchScript).train(v.params, createTestContext());
      if (result?.type !== 'result') throw new Error('no result');
      expect(Math.abs(result.final!.train_acc - alone.final.trainAcc)).toBeLessThanOrEqual(0.02);
      expect(Math.abs(result.final!.val_acc - alone.final.valAcc)).toBeLessThanOrEqual(0.02);
    }
  }, 180_000);

  it('runs the GPU pack benchmark in its CPU smoke mode', async () => {
    const out = join(dir, 'bench-out');
    const run = spawnSync(python!, [join(root, 'bench/gpu/pack_bench.py'), '--smoke'], {
      env: { ...process.env, OUT: out },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'pack_bench.json'), 'utf8'));
    expect(report.throughput.map((t: { pack: number }) => t.pack)).toEqual([1, 2, 4]);
    expect(report.phase_diagram.trials).toBe(2 * 2 * 2);
    expect(await readFile(join(out, 'pack_bench.md'), 'utf8')).toContain('speed-up');
  }, 180_000);
});
