import type { ResultsStore } from '@grokmap/workers';
import { progressQuery, type SweepResult } from '@grokmap/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  openTestStore,
  runCli,
  spawnCli,
  startTestServer,
  stopProcess,
  type TestServer,
  tempDir,
  waitFor,
  writeSpec,
} from '../support/harness.js';
import { maybeRecordHistory } from '../support/histories.js';

/**
 * Bayes and adaptive sweeps on the real server: suggestions run as
 * activities on the control queue and the sampler's state rides through
 * continue-as-new. A disturbed run (continue-as-new forced every few dozen
 * events, the control worker SIGKILLed and replaced mid-sweep) proposes
 * exactly the trials an undisturbed run with the same seed does, also when
 * rounds are pipelined (a trial proposed while earlier ones still run).
 * Each suggestion reads the finished trials back from the results store; a
 * control worker pointed at another store fails it, saying so, until it is
 * pointed back.
 */
const space = {
  weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
  data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
};
const specs = {
  bayes: {
    trainer: 'synthetic',
    method: 'bayes',
    seed: 7,
    metric: { name: 'steps_to_generalize', goal: 'minimize' },
    budget: { trials: 12, parallel: 4 },
    parameters: space,
    fixed: { max_steps: 20000, eval_every: 100, model_size: 64, seed: 0 },
  },
  // Rounds of one trial that may be proposed 6 trials ahead of the results they see (rounds.ts).
  'bayes-pipelined': {
    trainer: 'synthetic',
    method: 'bayes',
    seed: 11,
    metric: { name: 'steps_to_generalize', goal: 'minimize' },
    bayes: { batch: 1 },
    budget: { trials: 14, parallel: 4, lag: 6 },
    parameters: space,
    fixed: { max_steps: 20000, eval_every: 100, model_size: 64, seed: 0, step_delay_ms: 2 },
  },
  adaptive: {
    trainer: 'synthetic',
    method: 'adaptive',
    seed: 7,
    adaptive: { target: 'phase', batch: 4, initial: 8 },
    budget: { trials: 16, parallel: 4 },
    parameters: space,
    fixed: { max_steps: 20000, eval_every: 100, model_size: 64, seed: 0 },
  },
} as const;

describe('bayes and adaptive sweeps end to end', () => {
  let server: TestServer;
  let store: ResultsStore;
  const dir = tempDir('model-specs');
  let trainer: ReturnType<typeof spawnCli>;
  let control: ReturnType<typeof spawnCli>;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    server = await startTestServer();
    store = await openTestStore('sqlite', server.home);
    trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '4'], cliEnv(server, 'sqlite'));
    control = spawnCli(['worker', '--queue', 'control'], cliEnv(server, 'sqlite'));
  });

  afterAll(async () => {
    if (trainer) await stopProcess(trainer);
    if (control) await stopProcess(control);
    await store?.close();
    await server?.stop();
  });

  it.each(Object.keys(specs) as (keyof typeof specs)[])(
    '%s: disturbed and undisturbed runs with one seed propose the same trials',
    async (method) => {
      const env = cliEnv(server, 'sqlite');
      const calm = writeSpec(dir, `${method}-calm`, { name: `${method}-calm-${run}`, ...specs[method] });
      const calmRun = await runCli(['sweep', 'start', calm, '--wait', '--json'], env);
      expect(calmRun.code, calmRun.stderr).toBe(0);
      const calmOut = JSON.parse(calmRun.stdout) as SweepResult;
      expect(calmOut.status).toBe('completed');
      await maybeRecordHistory(server.client, calmOut.sweepId, `sweep-${method}`);

      const rough = writeSpec(dir, `${method}-rough`, { name: `${method}-rough-${run}`, ...specs[method] });
      const started = await runCli(['sweep', 'start', rough, '--json', '--continue-as-new-after', '40'], env);
      expect(started.code, started.stderr).toBe(0);
      const { sweepId } = JSON.parse(started.stdout) as { sweepId: string };
      await waitFor('the first batch to finish', async () => {
        const trials = await store.listTrials(sweepId);
        return trials.filter((t) => t.status === 'completed').length >= 4;
      });
      // Mid-sweep, the progress query (what `sweep status` prints) says where the next round starts.
      const progress = await server.client.workflow.getHandle(sweepId).query(progressQuery);
      expect(progress.nextRound?.startsAt).toBeGreaterThanOrEqual(4);
      for (const id of progress.nextRound!.waitsFor) expect(id.startsWith(`${sweepId}.t`)).toBe(true);
      await stopProcess(control, 'SIGKILL');
      control = spawnCli(['worker', '--queue', 'control'], env);
      const roughOut = (await server.client.workflow.getHandle(sweepId).result()) as SweepResult;
      expect(roughOut.status).toBe('completed');
      expect(roughOut.state.runs).toBeGreaterThan(1);

      const calmTrials = await store.listTrials(calmOut.sweepId);
      const roughTrials = await store.listTrials(sweepId);
      expect(calmTrials.length).toBeGreaterThanOrEqual(8);
      expect(roughTrials.map((t) => [t.index, t.params, t.phase])).toEqual(
        calmTrials.map((t) => [t.index, t.params, t.phase]),
      );
      // Model-based proposals differ from the space-filling start: not every trial is unique by accident.
      const distinct = new Set(roughTrials.map((t) => JSON.stringify(t.params)));
      expect(distinct.size).toBe(roughTrials.length);
      if (method === 'bayes-pipelined') {
        // Past the design (5 trials), some trial started while an earlier one was still running.
        for (const trials of [calmTrials, roughTrials]) {
          const overtaken = trials.filter(
            (late) =>
              late.index >= 5 &&
              trials.some((early) => early.index < late.index && early.finishedAt! > late.startedAt!),
          );
          expect(overtaken.length).toBeGreaterThan(0);
        }
      }
    },
  );

  it('a control worker on another results store: the suggestion fails saying so, and the sweep finishes once it is back', async () => {
    const env = cliEnv(server, 'sqlite');
    const spec = writeSpec(dir, 'bayes-moved', {
      ...specs.bayes,
      name: `bayes-moved-${run}`,
      // Trials of about two seconds, so the second batch is still running when the worker moves.
      fixed: { ...specs.bayes.fixed, step_delay_ms: 10 },
    });
    const started = await runCli(['sweep', 'start', spec, '--json'], env);
    expect(started.code, started.stderr).toBe(0);
    const { sweepId } = JSON.parse(started.stdout) as { sweepId: string };
    // The second batch running: the first is finished and, after the next suggestion, only in the store.
    await waitFor('the second batch to start', async () => (await store.listTrials(sweepId)).length >= 5);
    await stopProcess(control);
    const elsewhere = `sqlite://${tempDir('elsewhere')}/grokmap.db`;
    control = spawnCli(['worker', '--queue', 'control'], { ...env, GROKMAP_DATABASE_URL: elsewhere });
    const handle = server.client.workflow.getHandle(sweepId);
    let failure = '';
    await waitFor('the suggestion to fail on the other store', async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const suggestion = pending.find((a) => a.activityType?.name === 'suggestTrials');
      failure = suggestion?.lastFailure?.message ?? '';
      return failure !== '';
    });
    expect(failure).toMatch(
      /^sweep .*: the results store holds 0 of the \d+ finished trials this sweep's sampler left there; \d+ are missing, the first at indices 0, 1, 2, 3.*\(GROKMAP_DATABASE_URL\)\?$/,
    );
    await stopProcess(control);
    control = spawnCli(['worker', '--queue', 'control'], env);
    const out = (await handle.result()) as SweepResult;
    expect(out.status).toBe('completed');
    const trials = await store.listTrials(sweepId);
    expect(trials.map((t) => t.status)).toEqual(new Array(specs.bayes.budget.trials).fill('completed'));
    expect(new Set(trials.map((t) => JSON.stringify(t.params))).size).toBe(trials.length);
  });
});
