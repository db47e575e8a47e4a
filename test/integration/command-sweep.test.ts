import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResultsStore } from '@grokmap/workers';
import type { SweepResult } from '@grokmap/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { scheduledTrialActivities } from '../faults/audit.js';
import {
  cliEnv,
  openTestStore,
  REPO_ROOT,
  runCli,
  spawnCli,
  startTestServer,
  stopProcess,
  type TestServer,
  tempDir,
  waitFor,
  writeSpec,
} from '../support/harness.js';

/**
 * A sweep through the command plugin on the real server: the numpy example
 * trainer (examples/numpy_modular.py) registered in worker configuration,
 * a trainer worker SIGKILLed mid-trial and replaced (the program resumes from
 * its checkpoint and ends exactly where an undisturbed run does), and a
 * program whose output is malformed (the trial ends as an error quoting the
 * line; the sweep goes on).
 */
const GARBLED = `
import json, sys
print(json.dumps({"type": "progress", "step": 1, "train_acc": 0.1, "val_acc": 0.1}), flush=True)
print("loss went down, yay", flush=True)
`;

describe('command-plugin sweeps end to end', () => {
  let server: TestServer;
  let store: ResultsStore;
  let env: NodeJS.ProcessEnv;
  let control: ReturnType<typeof spawnCli>;
  const dir = tempDir('command-sweep');
  const run = Date.now().toString(36);

  beforeAll(async () => {
    const python = execFileSync('bash', [path.join(REPO_ROOT, 'plugins/command/scripts/ensure-python.sh')], {
      encoding: 'utf8',
    }).trim();
    writeFileSync(path.join(dir, 'garbled.py'), GARBLED);
    const config = path.join(dir, 'grokmap.config.yaml');
    writeFileSync(
      config,
      stringify({
        command_trainers: [
          {
            name: 'numpy-modular',
            program: python,
            args: [path.join(REPO_ROOT, 'examples', 'numpy_modular.py')],
            env: { OPENBLAS_NUM_THREADS: '1' },
            pack: { max_trials: 8, shape_keys: ['p', 'model_size', 'max_steps'] },
          },
          { name: 'garbled', program: python, args: [path.join(dir, 'garbled.py')] },
        ],
      }),
    );
    server = await startTestServer();
    store = await openTestStore('sqlite', server.home);
    env = { ...cliEnv(server, 'sqlite'), GROKMAP_WORKER_CONFIG: config };
    control = spawnCli(['worker', '--queue', 'control'], env);
  });

  afterAll(async () => {
    if (control) await stopProcess(control);
    await store?.close();
    await server?.stop();
  });

  const numpySpec = (name: string, pack = 1) => ({
    name,
    trainer: 'numpy-modular',
    method: 'grid',
    budget: { trials: 2, parallel: 2 },
    resources: { queue: 'cpu', pack },
    parameters: { data_fraction: { values: [0.4, 0.7] } },
    fixed: {
      p: 23,
      weight_decay: 1,
      lr: 0.003,
      embed_dim: 32,
      model_size: 64,
      max_steps: 800,
      eval_every: 20,
      checkpoint_every: 100,
      step_delay_ms: 15,
    },
    phase: { threshold: 0.99, delay_steps: 100 },
    limits: { heartbeat_timeout_s: 5, max_attempts: 4 },
  });

  let calmTrials: Awaited<ReturnType<ResultsStore['listTrials']>> = [];
  const final = (ts: typeof calmTrials) =>
    ts.map((t) => [t.params, t.outcome?.final, t.tTrain, t.tVal, t.phase]);

  /** Start the sweep, SIGKILL its worker once both trials checkpointed, let a new worker finish it. */
  async function killMidSweep(name: string, pack: number) {
    const first = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], env);
    let second: ReturnType<typeof spawnCli> | undefined;
    try {
      const started = await runCli(
        ['sweep', 'start', writeSpec(dir, name, numpySpec(name, pack)), '--json'],
        env,
      );
      expect(started.code, started.stderr).toBe(0);
      const { sweepId } = JSON.parse(started.stdout) as { sweepId: string };
      await waitFor('both trials past a checkpoint', async () => {
        const root = path.join(server.home, 'checkpoints');
        if (!existsSync(root)) return false;
        return (
          readdirSync(root).filter((d) => d.startsWith(sweepId) && readdirSync(path.join(root, d)).length > 0)
            .length >= 2
        );
      });
      await stopProcess(first, 'SIGKILL');
      // At info level the replacement worker's log shows the program's own "resumed from step N".
      second = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], {
        ...env,
        GROKMAP_LOG_LEVEL: 'info',
      });
      const result = (await server.client.workflow.getHandle(sweepId).result()) as SweepResult;
      return { sweepId, result, log: second.output() };
    } finally {
      await stopProcess(first, 'SIGKILL');
      if (second) await stopProcess(second);
    }
  }

  it('resumes a killed trial from its checkpoint and ends where an undisturbed run does', async () => {
    const calmWorker = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], env);
    const calm = await runCli(
      ['sweep', 'start', writeSpec(dir, 'calm', numpySpec(`numpy-calm-${run}`)), '--wait', '--json'],
      env,
    );
    await stopProcess(calmWorker);
    expect(calm.code, calm.stderr).toBe(0);
    const calmOut = JSON.parse(calm.stdout) as SweepResult;
    expect(calmOut.state.byStatus).toEqual({ completed: 2 });

    calmTrials = await store.listTrials(calmOut.sweepId);
    const rough = await killMidSweep(`numpy-rough-${run}`, 1);
    expect(rough.result.state.byStatus).toEqual({ completed: 2 });
    const roughTrials = await store.listTrials(rough.sweepId);
    expect(roughTrials.every((t) => t.attempts >= 2)).toBe(true);
    expect(rough.log).toMatch(/resumed from step [1-9]\d*/);
    expect(final(roughTrials)).toEqual(final(calmTrials));
  });

  it('trains a pack in one program and resumes each of its trials after a kill, ending where unpacked runs do', async () => {
    const packed = await killMidSweep(`numpy-packed-${run}`, 2);
    expect(packed.result.state.byStatus).toEqual({ completed: 2 });
    const types = (await scheduledTrialActivities(server.client, packed.sweepId)).map((a) => a.type);
    expect(types.filter((t) => t === 'runTrialPack')).toHaveLength(1);
    expect(types.filter((t) => t === 'runTrial')).toHaveLength(0);
    const trials = await store.listTrials(packed.sweepId);
    expect(trials.every((t) => t.attempts >= 2)).toBe(true);
    expect(final(trials)).toEqual(final(calmTrials));
  });

  it('records malformed program output as an error quoting the line, and the sweep goes on', async () => {
    const worker = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], env);
    try {
      const spec = {
        name: `garbled-${run}`,
        trainer: 'garbled',
        method: 'grid',
        budget: { trials: 2, parallel: 2 },
        parameters: { seed: { values: [0, 1] } },
      };
      const result = await runCli(
        ['sweep', 'start', writeSpec(dir, 'garbled', spec), '--wait', '--json'],
        env,
      );
      const out = JSON.parse(result.stdout) as SweepResult;
      expect(out.status).toBe('completed');
      expect(out.state.byStatus).toEqual({ error: 2 });
      const trials = await store.listTrials(out.sweepId);
      expect(trials).toHaveLength(2);
      for (const t of trials) {
        expect(t.status).toBe('error');
        expect(t.error).toMatch(/loss went down, yay/);
        expect(t.error).toMatch(/line 2/);
      }
    } finally {
      await stopProcess(worker);
    }
  });
});
