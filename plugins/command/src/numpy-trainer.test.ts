import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestContext,
  expectConformance,
  type ProgressReport,
  type TrialOutcome,
  trialOutcomeSchema,
} from '@grokmap/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createCommandTrainer } from './command-trainer.js';
import { commandTrainerConfigs, loadCommandTrainers } from './config.js';
import { createTestPack } from './test-pack.js';
import { numpyExampleConfig, projectPython, repoRoot, runPythonTests } from './test-python.js';

// These tests run examples/numpy_modular.py for real, with the venv that
// scripts/ensure-python.sh creates. Without numpy they are skipped on a
// developer machine and fail loudly in CI (CI set), never pass silently.
const script = join(repoRoot, 'examples/numpy_modular.py');
const { python, problem } = projectPython();
const runHere = runPythonTests(python);

const params = {
  p: 23,
  embed_dim: 32,
  model_size: 64,
  lr: 0.003,
  weight_decay: 1,
  data_fraction: 0.6,
  max_steps: 400,
  eval_every: 50,
  checkpoint_every: 100,
  seed: 3,
};

function numpyTrainer() {
  if (!python) throw new Error(problem);
  return createCommandTrainer(numpyExampleConfig(python));
}

describe.runIf(runHere)('numpy_modular.py through the command trainer', () => {
  let reference: { outcome: TrialOutcome; reports: ProgressReport[]; savedSteps: number[] };

  beforeAll(async () => {
    const ctx = createTestContext({ trialId: 'reference' });
    const outcome = await numpyTrainer().train(params, ctx);
    reference = { outcome, reports: ctx.reports, savedSteps: ctx.saved.map((c) => c.step) };
  }, 120_000);

  it('turns progress lines into reports and the result into a valid outcome', () => {
    const { outcome, reports } = reference;
    expect(outcome.status, outcome.reason).toBe('completed');
    expect(trialOutcomeSchema.parse(outcome)).toEqual(outcome);
    expect(outcome.backend).toBe('numpy');
    expect(outcome.steps).toBe(params.max_steps);
    expect(outcome.maxSteps).toBe(params.max_steps);

    const steps = reports.map((r) => r.step);
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(params.max_steps);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);

    const last = reports.at(-1)!;
    expect(outcome.final).toEqual({
      trainAcc: last.trainAcc,
      valAcc: last.valAcc,
      trainLoss: last.trainLoss,
      valLoss: last.valLoss,
      weightNorm: last.weightNorm,
    });
    // The curve is every evaluation (few enough here that none is thinned).
    expect(outcome.curves.map((c) => c.step)).toEqual(steps);
    const firstTrain = reports.find((r) => (r.trainAcc ?? 0) >= 0.99)?.step ?? null;
    const firstVal = reports.find((r) => (r.valAcc ?? 0) >= 0.99)?.step ?? null;
    expect(outcome.firstStepAtThreshold).toEqual({ train: firstTrain, val: firstVal });
    // This small MLP fits its training set well within the budget.
    expect(firstTrain).not.toBeNull();
    expect(outcome.extra?.n_train).toBe(Math.round(0.6 * 23 * 23));
  });

  it('stores every checkpoint line in the context checkpoint store', () => {
    expect(reference.savedSteps).toEqual([100, 200, 300]);
  });

  it('resumes a cancelled trial from its checkpoint and ends exactly where an uninterrupted run does', async () => {
    const first = createTestContext({ trialId: 'resumed' });
    const save = first.checkpoint.save.bind(first.checkpoint);
    first.checkpoint.save = async (step, data) => {
      await save(step, data);
      first.abort('worker shutting down');
    };
    // Slow steps so that the abort lands mid-run; the assertions below hold either way.
    const cancelled = await numpyTrainer().train({ ...params, step_delay_ms: 5 }, first);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.reason).not.toMatch(/ignoring SIGTERM/);
    const checkpoint = first.saved.at(-1)!;
    expect(checkpoint.step).toBeGreaterThan(0);
    expect(checkpoint.step).toBeLessThan(params.max_steps);

    const second = createTestContext({ trialId: 'resumed', attempt: 2, initialCheckpoint: checkpoint });
    const resumed = await numpyTrainer().train(params, second);
    expect(resumed.status, resumed.reason).toBe('completed');
    expect(second.reports[0]!.step).toBeGreaterThan(checkpoint.step);

    const expected = reference.outcome;
    expect(resumed.final).toEqual(expected.final);
    expect(resumed.steps).toBe(expected.steps);
    expect(resumed.firstStepAtThreshold).toEqual(expected.firstStepAtThreshold);
    // The curve before the checkpoint travels inside it, so the outcome has the whole run.
    expect(resumed.curves).toEqual(expected.curves);
  }, 120_000);

  it('stops, checkpointing, when its stdin closes because the host is gone', async () => {
    const work = await mkdtemp(join(tmpdir(), 'grokmap-host-gone-'));
    try {
      const checkpointDir = join(work, 'ckpt');
      await mkdir(checkpointDir);
      const paramsFile = join(work, 'params.json');
      const doc = { protocol: 1, trial_id: 'orphan', attempt: 1, threshold: 0.99, resume: null };
      const trialParams = { ...params, max_steps: 1_000_000, step_delay_ms: 5 };
      await writeFile(
        paramsFile,
        JSON.stringify({
          ...doc,
          params: trialParams,
          checkpoint_dir: checkpointDir,
          device: { kind: 'cpu' },
        }),
      );
      const child = spawn(python!, [script], {
        env: {
          ...process.env,
          GROKMAP_PROTOCOL: '1',
          GROKMAP_PARAMS_FILE: paramsFile,
          GROKMAP_STDIN_OPEN: '1',
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines: string[] = [];
      let buffered = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts);
        // The first progress line: the program is training; now the "host" goes away.
        if (lines.length > 0) child.stdin.end();
      });
      const code = await new Promise((done) => child.on('close', done));
      expect(code).toBe(0);
      const messages = lines.map((l) => JSON.parse(l));
      const result = messages.find((m) => m.type === 'result');
      expect(result).toMatchObject({ status: 'cancelled' });
      expect(result.reason).toContain('stdin closed');
      expect(result.steps).toBeLessThan(trialParams.max_steps);
      expect(messages.some((m) => m.type === 'checkpoint' && m.step === result.steps)).toBe(true);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);

  describe('as configured in examples/command-trainers.yaml', () => {
    async function exampleTrainer() {
      if (!python) throw new Error(problem);
      const doc = parseYaml(await readFile(join(repoRoot, 'examples/command-trainers.yaml'), 'utf8'));
      const config = commandTrainerConfigs(doc, join(repoRoot, 'examples')).find(
        (c) => c.name === 'numpy-modular',
      )!;
      // The example points at the default venv; use the one ensure-python.sh actually gave us.
      return createCommandTrainer({ ...config, program: python });
    }

    it('passes the plugin conformance kit', async () => {
      const trainer = await exampleTrainer();
      const report = await expectConformance(trainer, {
        params: { p: 13, embed_dim: 8, model_size: 16, max_steps: 60, eval_every: 10, checkpoint_every: 20 },
        invalidParams: [{ p: 1 }, { p: 13, activation: 'tanh' }, { p: 13, data_fraction: 1.5 }],
      });
      expect(report.checks.every((c) => c.ok)).toBe(true);
    }, 120_000);

    it('takes packs of trials of one shape', async () => {
      const trainer = await exampleTrainer();
      expect(trainer.packing?.maxTrials).toBeGreaterThan(1);
      const tiny = { p: 7, embed_dim: 4, model_size: 8, max_steps: 20, eval_every: 10, checkpoint_every: 10 };
      const { trials, pack } = createTestPack([
        { trialId: 'x', params: trainer.params.parse({ ...tiny, seed: 1 }) },
        { trialId: 'y', params: trainer.params.parse({ ...tiny, seed: 2 }) },
      ]);
      const outcomes = await trainer.trainPack!(trials, pack);
      expect(outcomes.map((o) => [o.status, o.steps, o.extra?.pack_size])).toEqual([
        ['completed', 20, 2],
        ['completed', 20, 2],
      ]);
    }, 60_000);

    it('refuses parameters the example schema does not declare', async () => {
      const trainer = await exampleTrainer();
      expect(trainer.params.safeParse({ p: 97, weight_decay: 0.1 }).success).toBe(true);
      expect(trainer.params.safeParse({ p: 97, program: '/bin/sh' }).success).toBe(false);
    });
  });

  describe('from a worker config file', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'grokmap-cmd-config-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('loads the trainer, validates parameters with its schema and runs it', async () => {
      const configPath = join(dir, 'trainers.yaml');
      await writeFile(
        configPath,
        [
          'trainers:',
          '  - name: numpy-modular',
          `    program: ${JSON.stringify(python ?? 'python3')}`,
          `    args: [${JSON.stringify(script)}]`,
          '    env: { OPENBLAS_NUM_THREADS: "1" }',
          '    params_schema:',
          '      type: object',
          '      additionalProperties: false',
          '      required: [p]',
          '      properties:',
          '        p: { type: integer, minimum: 2 }',
          '        max_steps: { type: integer, minimum: 1, default: 30 }',
          '        model_size: { type: integer, minimum: 1 }',
          '        embed_dim: { type: integer, minimum: 1 }',
          '        activation: { type: string, enum: [relu, quadratic] }',
          '',
        ].join('\n'),
      );
      const [trainer, ...rest] = await loadCommandTrainers(configPath);
      expect(rest).toHaveLength(0);
      expect(trainer!.name).toBe('numpy-modular');
      expect(trainer!.params.safeParse({ p: 1 }).success).toBe(false);
      expect(trainer!.params.safeParse({ p: 11, command: 'rm -rf /' }).success).toBe(false);

      const parsed = trainer!.params.parse({ p: 11, model_size: 16, embed_dim: 8, activation: 'quadratic' });
      expect(parsed).toMatchObject({ max_steps: 30 });
      const ctx = createTestContext();
      const outcome = await trainer!.train(parsed, ctx);
      expect(outcome.status, outcome.reason).toBe('completed');
      expect(outcome.steps).toBe(30);
      expect(ctx.reports.at(-1)?.step).toBe(30);
    }, 60_000);
  });
});

if (!runHere) {
  describe('numpy_modular.py through the command trainer', () => {
    it.skip(`needs python with numpy: ${problem}`, () => {});
  });
}
