import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Checkpoint,
  createTestContext,
  type ProgressReport,
  type TrialOutcome,
} from '@grokmap/plugin-sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CommandTrainerConfig, createCommandTrainer } from './command-trainer.js';
import { createTestPack } from './test-pack.js';
import { numpyExampleConfig, projectPython, repoRoot, runPythonTests } from './test-python.js';

// examples/numpy_modular.py taking packs of trials (protocol extension
// `pack`) through the real host. Like numpy-trainer.test.ts: skipped without
// numpy on a developer machine, failing loudly in CI.
const script = join(repoRoot, 'examples/numpy_modular.py');
const { python, problem } = projectPython();

const base = {
  p: 11,
  embed_dim: 8,
  model_size: 16,
  lr: 0.01,
  max_steps: 90,
  eval_every: 15,
  checkpoint_every: 30,
};
const variants = [
  { trialId: 'sweep/a', params: { ...base, weight_decay: 0.1, seed: 1 } },
  { trialId: 'sweep/b', params: { ...base, weight_decay: 1, seed: 2, data_fraction: 0.4 } },
  { trialId: 'sweep/c', params: { ...base, weight_decay: 0.5, seed: 3, lr: 0.003 } },
];

function numpyTrainer(config: Partial<CommandTrainerConfig> = {}) {
  if (!python) throw new Error(problem);
  return createCommandTrainer({
    ...numpyExampleConfig(python),
    pack: { maxTrials: 8, shapeKeys: ['p', 'embed_dim', 'model_size', 'max_steps'] },
    ...config,
  });
}

/** What must not depend on how a trial was run: all but the wall time and the pack size. */
function comparable(outcome: TrialOutcome) {
  const { wall_time_s: _wall, pack_size: _size, ...extra } = outcome.extra ?? {};
  return { ...outcome, extra };
}

describe.runIf(runPythonTests(python))('numpy_modular.py training packs through the command trainer', () => {
  let packed: { outcomes: TrialOutcome[]; reports: ProgressReport[][]; saved: Checkpoint[][] };

  beforeAll(async () => {
    const { trials, contexts, pack } = createTestPack(variants);
    const outcomes = await numpyTrainer().trainPack!(trials, pack);
    packed = {
      outcomes,
      reports: contexts.map((c) => c.reports),
      saved: contexts.map((c) => c.saved),
    };
  }, 120_000);

  it('gives each trial of a pack of 3 exactly the outcome it gets trained alone', async () => {
    expect(packed.outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'completed']);
    expect(packed.outcomes.map((o) => o.extra?.pack_size)).toEqual([3, 3, 3]);
    expect(packed.saved.map((saved) => saved.map((c) => c.step))).toEqual([
      [30, 60],
      [30, 60],
      [30, 60],
    ]);
    for (const [i, v] of variants.entries()) {
      const ctx = createTestContext({ trialId: v.trialId });
      const alone = await numpyTrainer().train(v.params, ctx);
      expect(alone.status, alone.reason).toBe('completed');
      expect(alone.extra?.pack_size).toBeUndefined();
      expect(comparable(packed.outcomes[i]!)).toEqual(comparable(alone));
      expect(packed.reports[i]).toEqual(ctx.reports);
    }
    // The trials really differ, so the comparison above could tell them apart.
    expect(new Set(packed.outcomes.map((o) => o.final.trainLoss)).size).toBe(3);
  }, 120_000);

  it('resumes each trial of a SIGKILLed pack from its own checkpoint to the uninterrupted end', async () => {
    // The program announces its pid, so the test can kill it like an out-of-memory killer would.
    const pidFile = join(tmpdir(), `grokmap-pack-kill-${process.pid}.pid`);
    const trainer = numpyTrainer({
      program: '/bin/sh',
      args: ['-c', 'echo $$ > "$PID_FILE" && exec "$0" "$@"', python!, script],
      env: { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', PID_FILE: pidFile },
    });
    // Slow steps so that the kill lands mid-run.
    const slow = variants.map((v) => ({ ...v, params: { ...v.params, step_delay_ms: 20 } }));
    const first = createTestPack(slow);
    const save = first.contexts[0]!.checkpoint.save.bind(first.contexts[0]!.checkpoint);
    first.contexts[0]!.checkpoint.save = async (step, data) => {
      await save(step, data);
      process.kill(Number((await readFile(pidFile, 'utf8')).trim()), 'SIGKILL');
    };
    const killed = await trainer.trainPack!(first.trials, first.pack).finally(() =>
      rm(pidFile, { force: true }),
    );
    for (const o of killed) {
      expect(o.status).toBe('error');
      expect(o.reason).toContain('program killed by SIGKILL');
    }
    expect(first.contexts[0]!.saved.map((s) => s.step)).toEqual([30]);

    const again = createTestPack(
      variants.map((v, i) => ({ ...v, initialCheckpoint: first.contexts[i]!.saved.at(-1) })),
      { attempt: 2 },
    );
    const resumed = await numpyTrainer().trainPack!(again.trials, again.pack);
    expect(again.contexts[0]!.reports[0]!.step).toBeGreaterThan(30);
    expect(resumed.map(comparable)).toEqual(packed.outcomes.map(comparable));
  }, 120_000);

  it('runs trials of a pack that resume from different steps as separate packs, each from its own', async () => {
    // a from its checkpoint at step 60, b from the one at 30, c afresh.
    const from = [packed.saved[0]![1], packed.saved[1]![0], undefined];
    const { trials, contexts, pack } = createTestPack(
      variants.map((v, i) => ({ ...v, initialCheckpoint: from[i] })),
      { attempt: 2 },
    );
    const outcomes = await numpyTrainer().trainPack!(trials, pack);
    expect(outcomes.map((o) => o.extra?.pack_size)).toEqual([1, 1, 1]);
    const firstReported = contexts.map((c) => c.reports[0]!.step);
    expect(firstReported[0]).toBeGreaterThan(60);
    expect(firstReported[1]).toBeGreaterThan(30);
    expect(firstReported[1]).toBeLessThan(60);
    expect(firstReported[2]).toBe(0);
    expect(outcomes.map(comparable)).toEqual(packed.outcomes.map(comparable));
  }, 120_000);
});

if (!runPythonTests(python)) {
  describe('numpy_modular.py training packs through the command trainer', () => {
    it.skip(`needs python with numpy: ${problem}`, () => {});
  });
}
