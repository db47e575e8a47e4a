import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runningDevServer } from '@grokmap/infra';
import {
  createControlActivities,
  createRegressionActivities,
  installTemporalRuntime,
  type ResultsStore,
  type SweepRecord,
  WORKFLOWS_PATH,
} from '@grokmap/workers';
import {
  CONTROL_TASK_QUEUE,
  type RegressionInput,
  type RegressionResult,
  regressionSweepId,
  sweepSpecSchema,
} from '@grokmap/workflows';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  logger,
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

/**
 * A sweep that is over says so in the store, however it ended. When an
 * activity fails for good (here a control activity made to fail, as a
 * broken sampler or a store that refuses writes would), the workflow records
 * the sweep as failed with the reason, and its running trials as cancelled,
 * before it fails; a partition's failure fails its parent the same way. When
 * the server ends the workflow without running its code (terminate), `sweep
 * status` and `sweep list` find it closed and record how it ended. A
 * regression check whose sweep failed, or whose every trial crashed, stores
 * the verdict failed and notifies. With the embedded server down, `sweep
 * list` does not start one to ask.
 *
 * The control worker runs in this process, with the real control activities
 * and a switch to make two of them fail; trials run on a real trainer worker.
 */

/** Rounds of one bayes trial, proposed while others run, so trials are running when a suggestion fails. */
const pipelinedBayes = {
  trainer: 'synthetic',
  method: 'bayes',
  seed: 3,
  metric: { name: 'steps_to_generalize', goal: 'minimize' },
  bayes: { batch: 1 },
  budget: { trials: 14, parallel: 4, lag: 6 },
  parameters: {
    weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
    data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
  },
  fixed: { max_steps: 4000, eval_every: 100, model_size: 64, seed: 0, step_delay_ms: 1 },
};

const injected = (what: string) => ApplicationFailure.nonRetryable(`injected: ${what}`, 'InjectedFault');

describe('sweeps that end badly say so in the store', () => {
  let server: TestServer;
  let store: ResultsStore;
  let control: { worker: Worker; done: Promise<void> };
  let trainer: ReturnType<typeof spawnCli>;
  const dir = tempDir('failed-specs');
  const run = Date.now().toString(36);
  /** Suggestions that succeed before the rest fail; failures of recordTrialFailure. */
  const faults = { suggestionsAllowed: Number.POSITIVE_INFINITY, recordsFail: false };
  let suggestions = 0;

  beforeAll(async () => {
    server = await startTestServer();
    store = await openTestStore('sqlite', server.home);
    installTemporalRuntime(logger);
    const real = createControlActivities({ store, logger });
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address: server.address }),
      namespace: 'default',
      taskQueue: CONTROL_TASK_QUEUE,
      workflowsPath: WORKFLOWS_PATH,
      activities: {
        ...createRegressionActivities({ store, logger }),
        ...real,
        suggestTrials: async (input: Parameters<typeof real.suggestTrials>[0]) => {
          if (++suggestions > faults.suggestionsAllowed) throw injected('the sampler cannot go on');
          return real.suggestTrials(input);
        },
        recordTrialFailure: async (input: Parameters<typeof real.recordTrialFailure>[0]) => {
          // Only failures: a cancelled trial is still recorded, as after a store that recovered.
          if (faults.recordsFail && input.status !== 'cancelled')
            throw injected('the store refuses the write');
          return real.recordTrialFailure(input);
        },
      },
    });
    control = { worker, done: worker.run() };
    trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '4'], cliEnv(server, 'sqlite'));
  });

  afterAll(async () => {
    if (trainer) await stopProcess(trainer);
    if (control) {
      control.worker.shutdown();
      await control.done;
    }
    await store?.close();
    await server?.stop();
  });

  /** Start a sweep through the CLI; its id. */
  async function start(name: string, spec: Record<string, unknown>, args: string[] = []): Promise<string> {
    const file = writeSpec(dir, name, { name: `${name}-${run}`, ...spec });
    const started = await runCli(['sweep', 'start', file, '--json', ...args], cliEnv(server, 'sqlite'));
    expect(started.code, started.stderr).toBe(0);
    return (JSON.parse(started.stdout) as { sweepId: string }).sweepId;
  }

  async function failure(sweepId: string): Promise<WorkflowFailedError> {
    const err = await server.client.workflow
      .getHandle(sweepId)
      .result()
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    return err as WorkflowFailedError;
  }

  async function runningTrials(sweepId: string): Promise<number> {
    return (await store.listTrials(sweepId)).filter((t) => t.status === 'running').length;
  }

  it('a suggestion that fails for good: the sweep is recorded failed with the reason, its running trials cancelled', async () => {
    suggestions = 0;
    faults.suggestionsAllowed = 3;
    // Followed with --wait: it says how the sweep ended, with the reason, and exits 1.
    const file = writeSpec(dir, 'bayes-fails', { name: `bayes-fails-${run}`, ...pipelinedBayes });
    const waited = await runCli(['sweep', 'start', file, '--wait', '--json'], cliEnv(server, 'sqlite'));
    faults.suggestionsAllowed = Number.POSITIVE_INFINITY;
    expect(waited.code, waited.stderr).toBe(1);
    const out = JSON.parse(waited.stdout) as { sweepId: string; status: string; verdict: string };
    const sweepId = out.sweepId;
    expect([out.status, out.verdict]).toEqual([
      'failed',
      'suggestTrials failed for good: InjectedFault: injected: the sampler cannot go on',
    ]);
    await failure(sweepId);

    const record = (await store.getSweep(sweepId))!;
    expect(record.status).toBe('failed');
    expect(record.verdict).toBe(
      'suggestTrials failed for good: InjectedFault: injected: the sampler cannot go on',
    );
    const trials = await store.listTrials(sweepId);
    const cancelled = trials.filter((t) => t.status === 'cancelled');
    expect(cancelled.length).toBeGreaterThan(0);
    for (const t of cancelled) expect(t.error).toBe(`sweep failed: ${record.verdict}`);
    expect(await runningTrials(sweepId)).toBe(0);

    const status = await runCli(['sweep', 'status', sweepId], cliEnv(server, 'sqlite'));
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`sweep ${sweepId}  failed — suggestTrials failed for good`);
  });

  it('a partition that fails for good fails its parent, which records why', async () => {
    faults.recordsFail = true;
    const sweepId = await start(
      'partition-fails',
      {
        trainer: 'synthetic',
        method: 'grid',
        budget: { trials: 8, parallel: 4 },
        limits: { max_attempts: 1 },
        parameters: {
          weight_decay: { values: [0.1, 1] },
          data_fraction: { values: [0.3, 0.7] },
          fail: { values: ['segfault', 'none'] },
        },
        fixed: { max_steps: 2000, eval_every: 100, model_size: 64, fail_at_step: 500 },
      },
      ['--partition-size', '4'],
    );
    await failure(sweepId);
    faults.recordsFail = false;

    const record = (await store.getSweep(sweepId))!;
    expect(record.status).toBe('failed');
    expect(record.verdict).toBe(
      `partition ${sweepId}.p0000 failed: recordTrialFailure failed for good: InjectedFault: injected: the store refuses the write`,
    );
    // The second partition never started.
    expect((await store.listTrials(sweepId)).every((t) => t.index < 4)).toBe(true);
  });

  it('a shard that fails for good stops the shards beside it: their trials are cancelled, the parent records why', async () => {
    faults.recordsFail = true;
    const sweepId = await start(
      'shard-fails',
      {
        trainer: 'synthetic',
        method: 'grid',
        budget: { trials: 8, parallel: 4 },
        limits: { max_attempts: 1 },
        // Grid order follows the parameters' sorted names, the first slowest: the first range's
        // trials crash within a second, the second range's would run for 20 s.
        parameters: {
          fail: { values: ['segfault', 'none'] },
          weight_decay: { values: [0.1, 0.3, 1, 3] },
        },
        fixed: {
          max_steps: 2000,
          eval_every: 100,
          model_size: 64,
          data_fraction: 0.5,
          fail_at_step: 100,
          step_delay_ms: 10,
        },
      },
      ['--partition-size', '4', '--shard-parallel', '2'],
    );
    await failure(sweepId);
    faults.recordsFail = false;

    const record = (await store.getSweep(sweepId))!;
    expect([record.status, record.verdict]).toEqual([
      'failed',
      `partition ${sweepId}.p0000 failed: recordTrialFailure failed for good: InjectedFault: injected: the store refuses the write`,
    ]);
    const sibling = await server.client.workflow.getHandle(`${sweepId}.p0001`).describe();
    expect(sibling.status.name).toBe('CANCELLED');
    const second = (await store.listTrials(sweepId)).filter((t) => t.index >= 4);
    expect(second.length).toBeGreaterThan(0);
    expect(second.every((t) => t.status === 'cancelled')).toBe(true);
    expect(await runningTrials(sweepId)).toBe(0);
  });

  it.each([
    ['partitions one after another', ['--partition-size', '4']],
    ['shards side by side', ['--partition-size', '4', '--shard-parallel', '2']],
  ])('the failure budget counts the whole sweep, not each partition (%s)', async (how, flags) => {
    // 3 ranges of 4 trials, 2 of each throwing: 6 failures in all, 2 per range, the budget 3.
    const sweepId = await start(
      `budget-${flags.length}`,
      {
        trainer: 'synthetic',
        method: 'grid',
        budget: { trials: 12, parallel: 4, max_failures: 3 },
        limits: { max_attempts: 1 },
        parameters: {
          data_fraction: { values: [0.3, 0.5, 0.7] },
          fail: { values: ['throw', 'none'] },
          weight_decay: { values: [0.1, 1] },
        },
        fixed: { max_steps: 1000, eval_every: 100, model_size: 64, fail_at_step: 100 },
      },
      flags,
    );
    await server.client.workflow.getHandle(sweepId).result();
    const record = (await store.getSweep(sweepId))!;
    expect([how, record.status]).toEqual([how, 'failed']);
    expect(record.verdict).toMatch(/^failure budget spent: [4-6] failed trials, budget\.max_failures is 3$/);
    expect(await runningTrials(sweepId)).toBe(0);
  });

  /** A webhook receiver on a free port: the JSON bodies posted to it. */
  async function webhook(): Promise<{ url: string; posts: Record<string, unknown>[]; close(): void }> {
    const posts: Record<string, unknown>[] = [];
    const hook = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => {
        text += d.toString();
      });
      req.on('end', () => {
        posts.push(JSON.parse(text) as Record<string, unknown>);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    return { url, posts, close: () => hook.close() };
  }

  /** A regression check of `spec` without a baseline, notifying a fresh webhook: its verdict and what was posted. */
  async function regressionCheck(
    name: string,
    spec: Record<string, unknown>,
  ): Promise<{ sweepId: string; verdict: RegressionResult; posts: Record<string, unknown>[] }> {
    const hook = await webhook();
    try {
      const workflowId = `${name}-${run}`;
      const verdict = (await server.client.workflow.execute('regressionWorkflow', {
        taskQueue: CONTROL_TASK_QUEUE,
        workflowId,
        args: [
          {
            spec: sweepSpecSchema.parse({ name: workflowId, ...spec }),
            baseline: 'none',
            notify: { url: hook.url, format: 'json' },
            options: { writeReport: false },
          } satisfies RegressionInput,
        ],
      })) as RegressionResult;
      return { sweepId: regressionSweepId(workflowId), verdict, posts: hook.posts };
    } finally {
      hook.close();
    }
  }

  const posted = (posts: Record<string, unknown>[]) =>
    posts.map((p) => [p.verdict, p.sweepId, (p.reasons as string[])[0]]);

  it('a scheduled regression check whose sweep fails for good: the verdict failed, saying why, and the webhook hears of it', async () => {
    suggestions = 0;
    faults.suggestionsAllowed = 2;
    const { sweepId, verdict, posts } = await regressionCheck('regression-fails', pipelinedBayes).finally(
      () => {
        faults.suggestionsAllowed = Number.POSITIVE_INFINITY;
      },
    );
    const reason =
      'the sweep ended failed (suggestTrials failed for good: InjectedFault: injected: the sampler cannot go on)';
    expect([verdict.sweepId, verdict.verdict, verdict.reasons[0]]).toEqual([sweepId, 'failed', reason]);
    expect((await store.getRegression(sweepId))?.verdict).toBe('failed');
    expect(posted(posts)).toEqual([['failed', sweepId, reason]]);
  });

  it('a regression check whose training code crashes on every trial, with no failure budget: failed, and notified', async () => {
    const { sweepId, verdict, posts } = await regressionCheck('regression-crashes', {
      trainer: 'synthetic',
      method: 'grid',
      budget: { trials: 4, parallel: 4 },
      parameters: { weight_decay: { values: [0.1, 1] }, data_fraction: { values: [0.3, 0.7] } },
      fixed: { max_steps: 1000, eval_every: 100, model_size: 64, fail: 'throw', fail_at_step: 100 },
    });
    const sweep = await store.getSweep(sweepId);
    expect(sweep?.status).toBe('completed');
    expect(verdict.verdict).toBe('failed');
    expect(verdict.reasons[0]).toMatch(
      /^no trial of the sweep was classified: 4 of its 4 trials failed \(4 error\); the first: .*injected failure at step 100/,
    );
    expect(posted(posts)).toEqual([['failed', sweepId, verdict.reasons[0]]]);
  });

  it('a workflow terminated on the server: sweep list and sweep status find it over and record how it ended', async () => {
    const sweepId = await start('terminated', {
      trainer: 'synthetic',
      method: 'grid',
      budget: { trials: 8, parallel: 4 },
      parameters: {
        weight_decay: { values: [0.1, 1] },
        data_fraction: { values: [0.3, 0.7] },
        seed: { values: [0, 1] },
      },
      fixed: { max_steps: 20000, eval_every: 100, model_size: 64, step_delay_ms: 200 },
    });
    await waitFor('a trial to start', async () => (await runningTrials(sweepId)) > 0);
    const env = cliEnv(server, 'sqlite');
    const listed = async () => {
      const list = await runCli(['sweep', 'list', '--status', 'running', '--json'], env);
      expect(list.code, list.stderr).toBe(0);
      return (JSON.parse(list.stdout) as SweepRecord[]).map((s) => s.sweepId);
    };
    // Still running on the server: listed as running, and left so.
    expect(await listed()).toContain(sweepId);
    expect((await store.getSweep(sweepId))?.status).toBe('running');

    await server.client.workflow.getHandle(sweepId).terminate('operator: the node was drained');
    expect(await listed()).not.toContain(sweepId);
    const verdict =
      'workflow terminated on the Temporal server before the sweep recorded its end: operator: the node was drained';
    const record = (await store.getSweep(sweepId))!;
    expect([record.status, record.verdict]).toEqual(['failed', verdict]);
    const trials = await store.listTrials(sweepId);
    expect(trials.filter((t) => t.status === 'running')).toEqual([]);
    expect(trials.filter((t) => t.status === 'cancelled').map((t) => t.error)).toContain(
      `the sweep ended: ${verdict}`,
    );

    const status = await runCli(['sweep', 'status', sweepId], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`sweep ${sweepId}  failed — ${verdict}`);
  });

  it('sweep list never starts the embedded server to ask about running sweeps: while it is down they are paused, not over', async () => {
    const home = tempDir('list-home');
    const local = await openTestStore('sqlite', home);
    const now = new Date().toISOString();
    await local.saveSweep({
      sweepId: 'paused-sweep',
      name: 'paused-sweep',
      trainer: 'synthetic',
      method: 'grid',
      spec: {},
      status: 'running',
      plannedTrials: 4,
      createdAt: now,
      updatedAt: now,
    });
    await local.close();
    const env = {
      ...process.env,
      GROKMAP_HOME: home,
      GROKMAP_TEMPORAL_ADDRESS: '',
      GROKMAP_DATABASE_URL: '',
    };
    const list = await runCli(['sweep', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as SweepRecord[]).map((s) => [s.sweepId, s.status])).toEqual([
      ['paused-sweep', 'running'],
    ]);
    expect(runningDevServer(home)).toBeUndefined();
  });
});
