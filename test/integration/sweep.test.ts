import type { ResultsStore } from '@grokmap/workers';
import type { SweepResult } from '@grokmap/workflows';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SweepListing } from '../../cli/src/sweep-list.js';
import {
  checkpointedTrials,
  cliEnv,
  openTestStore,
  resumableSyntheticSpec,
  runCli,
  type StoreKind,
  spawnCli,
  startTestServer,
  stopProcess,
  storeKinds,
  syntheticSpec,
  type TestServer,
  tempDir,
  waitFor,
  writeSpec,
} from '../support/harness.js';
import { maybeRecordHistory } from '../support/histories.js';

/**
 * The foundation, end to end: sweeps on a real Temporal dev server, trainer
 * and control workers as real processes, results in real SQLite and
 * PostgreSQL.
 */
describe.each(storeKinds())('sweep end to end (%s store)', (kind: StoreKind) => {
  let server: TestServer;
  let store: ResultsStore;
  let specDir: string;
  let control: ReturnType<typeof spawnCli>;
  const run = `${kind}-${Date.now().toString(36)}`;

  beforeAll(async () => {
    server = await startTestServer();
    store = await openTestStore(kind, server.home);
    specDir = tempDir('specs');
    control = spawnCli(['worker', '--queue', 'control'], cliEnv(server, kind));
  });

  afterAll(async () => {
    if (control) await stopProcess(control);
    await store?.close();
    await server?.stop();
  });

  async function expectEveryTrialOnce(sweepId: string, planned: number): Promise<void> {
    const trials = await store.listTrials(sweepId);
    expect(trials.map((t) => t.index)).toEqual(Array.from({ length: planned }, (_, i) => i));
    expect(new Set(trials.map((t) => t.trialId)).size).toBe(planned);
    expect(trials.filter((t) => t.status === 'running')).toEqual([]);
    for (const t of trials.slice(0, 3)) {
      const curves = await store.getCurves(t.trialId);
      expect(new Set(curves.map((c) => c.step)).size).toBe(curves.length);
    }
  }

  it('runs a grid sweep to completion with every trial recorded exactly once and classified', async () => {
    const trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], cliEnv(server, kind));
    try {
      const file = writeSpec(specDir, 'plain', syntheticSpec(`plain-${run}`));
      const result = await runCli(['sweep', 'start', file, '--wait', '--json'], cliEnv(server, kind));
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout) as SweepResult & { trials: unknown[] };
      expect(out.status).toBe('completed');
      expect(out.state.finished).toBe(12);
      expect(out.state.byStatus).toEqual({ completed: 12 });
      await expectEveryTrialOnce(out.sweepId, 12);
      await maybeRecordHistory(server.client, out.sweepId, `sweep-grid-${kind}`);
      const trials = await store.listTrials(out.sweepId);
      expect(trials.every((t) => t.phase !== null && t.phase !== undefined)).toBe(true);
      expect(new Set(trials.map((t) => t.phase)).size).toBeGreaterThanOrEqual(2);
      const sweep = await store.getSweep(out.sweepId);
      expect(sweep?.status).toBe('completed');

      // Continue-as-new forced every few dozen events: same trials, same phases.
      const canFile = writeSpec(specDir, 'can', syntheticSpec(`can-${run}`));
      const can = await runCli(
        ['sweep', 'start', canFile, '--wait', '--json', '--continue-as-new-after', '40'],
        cliEnv(server, kind),
      );
      expect(can.code, can.stderr).toBe(0);
      const canOut = JSON.parse(can.stdout) as SweepResult;
      expect(canOut.state.runs).toBeGreaterThan(1);
      await expectEveryTrialOnce(canOut.sweepId, 12);
      await maybeRecordHistory(server.client, canOut.sweepId, `sweep-continued-as-new-${kind}`);
      const canTrials = await store.listTrials(canOut.sweepId);
      expect(canTrials.map((t) => [t.index, t.phase, t.tTrain, t.tVal])).toEqual(
        trials.map((t) => [t.index, t.phase, t.tTrain, t.tVal]),
      );

      // `sweep list` shows both sweeps, newest first, with what their stored trials came to.
      const listed = await runCli(['sweep', 'list', '--json'], cliEnv(server, kind));
      expect(listed.code, listed.stderr).toBe(0);
      const listing = JSON.parse(listed.stdout) as SweepListing[];
      const ours = listing.filter((l) => [out.sweepId, canOut.sweepId].includes(l.sweepId));
      expect(ours.map((l) => l.sweepId)).toEqual([canOut.sweepId, out.sweepId]);
      const phaseCounts: Record<string, number> = {};
      for (const t of trials) phaseCounts[t.phase!] = (phaseCounts[t.phase!] ?? 0) + 1;
      for (const l of ours) {
        expect(l).toMatchObject({ method: 'grid', trainer: 'synthetic', status: 'completed' });
        expect(l.trials).toEqual({ planned: 12, finished: 12, running: 0, byPhase: phaseCounts });
      }
      const newest = await runCli(['sweep', 'list', '--limit', '1'], cliEnv(server, kind));
      expect(newest.code, newest.stderr).toBe(0);
      expect(newest.stdout.trim().split('\n')).toHaveLength(2);
      const cancelled = await runCli(
        ['sweep', 'list', '--status', 'cancelled', '--json'],
        cliEnv(server, kind),
      );
      expect(cancelled.code, cancelled.stderr).toBe(0);
      expect((JSON.parse(cancelled.stdout) as SweepListing[]).map((l) => l.sweepId)).not.toContain(
        out.sweepId,
      );
      const badStatus = await runCli(['sweep', 'list', '--status', 'done'], cliEnv(server, kind));
      expect(badStatus.code).toBe(2);
      expect(badStatus.stderr).toMatch(
        /--status: expected one of running, completed, failed, cancelled, got 'done'/,
      );
      const badLimit = await runCli(['sweep', 'list', '--limit', 'all'], cliEnv(server, kind));
      expect(badLimit.code).toBe(2);
      expect(badLimit.stderr).toMatch(/--limit: expected a whole number of at least 1, got 'all'/);

      // Starting the same finished sweep again is refused; nothing is duplicated.
      const again = await runCli(['sweep', 'start', file, '--json'], cliEnv(server, kind));
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/already run/);
      await expectEveryTrialOnce(out.sweepId, 12);
    } finally {
      await stopProcess(trainer);
    }
  });

  /** `sweep start --wait --json` with these flags: the sweep's result, once it exited 0. */
  async function runToEnd(file: string, flags: string[]): Promise<SweepResult> {
    const result = await runCli(['sweep', 'start', file, '--wait', '--json', ...flags], cliEnv(server, kind));
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as SweepResult;
  }

  it('runs a sweep larger than one partition as child sweeps, each trial once', async () => {
    const trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], cliEnv(server, kind));
    try {
      const file = writeSpec(specDir, 'partitioned', syntheticSpec(`partitioned-${run}`));
      const out = await runToEnd(file, ['--partition-size', '5', '--continue-as-new-after', '60']);
      expect(out.status).toBe('completed');
      expect(out.state.finished).toBe(12);
      expect(out.state.byStatus).toEqual({ completed: 12 });
      await expectEveryTrialOnce(out.sweepId, 12);
      // Three children (5 + 5 + 2 trials), each its own workflow under the parent.
      const children: string[] = [];
      for await (const w of server.client.workflow.list({
        query: `WorkflowId STARTS_WITH "${out.sweepId}.p"`,
      })) {
        children.push(w.workflowId);
      }
      expect(new Set(children).size).toBe(3);
      expect((await store.getSweep(out.sweepId))?.status).toBe('completed');
      await maybeRecordHistory(server.client, out.sweepId, `sweep-partitioned-parent-${kind}`);
      await maybeRecordHistory(server.client, `${out.sweepId}.p0000`, `sweep-partition-child-${kind}`);
    } finally {
      await stopProcess(trainer);
    }
  });

  it('runs a sweep wider than one shard as concurrent shards, each with its share of budget.parallel, each trial once', async () => {
    const trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '6'], cliEnv(server, kind));
    try {
      // 24 trials, 6 in flight as 3 shards of 2, in ranges of 4 trials (6 children, 3 at a time);
      // every workflow run holds at most ~30 events, so the parent and its children continue as new.
      const spec = syntheticSpec(`sharded-${run}`, {
        budget: { trials: 24, parallel: 6 },
        parameters: {
          weight_decay: { values: [0.01, 0.1, 1] },
          data_fraction: { values: [0.2, 0.45, 0.7, 0.9] },
          seed: { values: [0, 1] },
        },
        fixed: { max_steps: 2000, eval_every: 100, model_size: 64, step_delay_ms: 1 },
      });
      const file = writeSpec(specDir, 'sharded', spec);
      const out = await runToEnd(file, [
        '--shard-parallel',
        '2',
        '--partition-size',
        '4',
        '--continue-as-new-after',
        '30',
      ]);
      expect([out.status, out.state.finished, out.state.byStatus]).toEqual([
        'completed',
        24,
        { completed: 24 },
      ]);
      // The parent continued as new (after letting its running children finish), and carried on.
      expect(out.state.runs).toBeGreaterThan(1);
      await expectEveryTrialOnce(out.sweepId, 24);
      expect((await store.getSweep(out.sweepId))?.status).toBe('completed');

      const children: { id: string; start: number; end: number; parallel: number }[] = [];
      for await (const w of server.client.workflow.list({
        query: `WorkflowId STARTS_WITH "${out.sweepId}.p"`,
      })) {
        const history = await server.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
        const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        const input = defaultPayloadConverter.fromPayload(payload!) as {
          spec: { budget: { parallel: number } };
        };
        children.push({
          id: w.workflowId,
          start: w.startTime.getTime(),
          end: w.closeTime!.getTime(),
          parallel: input.spec.budget.parallel,
        });
      }
      // Each child's first run (its later runs, if any, carry the same input).
      const firstRuns = [
        ...new Map(children.sort((a, b) => b.start - a.start).map((c) => [c.id, c])).values(),
      ];
      expect(firstRuns.map((c) => c.id).sort()).toEqual(
        [0, 1, 2, 3, 4, 5].map((i) => `${out.sweepId}.p000${i}`),
      );
      expect(new Set(firstRuns.map((c) => c.parallel))).toEqual(new Set([2]));
      // Shards ran side by side: some moment had more than one child running.
      const overlap = Math.max(
        ...firstRuns.map((c) => firstRuns.filter((d) => d.start <= c.start && c.start < d.end).length),
      );
      expect(overlap).toBeGreaterThan(1);
    } finally {
      await stopProcess(trainer);
    }
  });

  it('survives a trainer worker killed with SIGKILL mid-sweep: no trial lost or duplicated', async () => {
    const spec = resumableSyntheticSpec(`kill-${run}`);
    const file = writeSpec(specDir, 'kill', spec);
    const first = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '4'], cliEnv(server, kind));
    let second: ReturnType<typeof spawnCli> | undefined;
    try {
      const started = await runCli(['sweep', 'start', file, '--json'], cliEnv(server, kind));
      expect(started.code, started.stderr).toBe(0);
      const { sweepId } = JSON.parse(started.stdout) as { sweepId: string };
      // Kill once trials are past a checkpoint, so the retry must resume rather than restart.
      await waitFor(
        'two trials past their first checkpoint',
        async () => checkpointedTrials(server.home, sweepId).length >= 2,
      );
      await stopProcess(first, 'SIGKILL');
      second = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '4'], cliEnv(server, kind));
      const handle = server.client.workflow.getHandle(sweepId);
      const result = (await handle.result()) as SweepResult;
      expect(result.status).toBe('completed');
      expect(result.state.finished).toBe(8);
      await expectEveryTrialOnce(sweepId, 8);
      const trials = await store.listTrials(sweepId);
      expect(trials.every((t) => t.status === 'completed')).toBe(true);
      const retried = trials.filter((t) => t.attempts > 1);
      expect(retried.length).toBeGreaterThan(0);
      const resumed = retried.filter((t) => Number(t.outcome?.extra?.resumed_from ?? 0) > 0);
      expect(resumed.length).toBeGreaterThan(0);
    } finally {
      await stopProcess(first, 'SIGKILL');
      if (second) await stopProcess(second);
    }
  });

  it.each([
    ['one workflow', []],
    ['two shards', ['--shard-parallel', '2', '--partition-size', '6']],
  ])('sweep cancel stops in-flight trials and records them as cancelled (%s)', async (_how, flags) => {
    const spec = syntheticSpec(`cancel-${flags.length}-${run}`, {
      fixed: { max_steps: 20000, eval_every: 50, model_size: 64, step_delay_ms: 100 },
      limits: { heartbeat_timeout_s: 10 },
    });
    const file = writeSpec(specDir, `cancel-${flags.length}`, spec);
    const trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '4'], cliEnv(server, kind));
    try {
      const started = await runCli(['sweep', 'start', file, '--json', ...flags], cliEnv(server, kind));
      expect(started.code, started.stderr).toBe(0);
      const { sweepId } = JSON.parse(started.stdout) as { sweepId: string };
      await waitFor('trials running', async () => {
        const trials = await store.listTrials(sweepId);
        return trials.filter((t) => t.status === 'running').length >= 2;
      });
      const cancel = await runCli(['sweep', 'cancel', sweepId], cliEnv(server, kind));
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(cancel.stdout).toMatch(/cancelled/);
      const trials = await store.listTrials(sweepId);
      expect(trials.length).toBeGreaterThanOrEqual(2);
      expect(trials.filter((t) => t.status === 'running')).toEqual([]);
      expect(trials.filter((t) => t.status === 'cancelled').length).toBeGreaterThanOrEqual(2);
      expect((await store.getSweep(sweepId))?.status).toBe('cancelled');
      if (flags.length > 0) {
        for (const child of [`${sweepId}.p0000`, `${sweepId}.p0001`]) {
          const description = await server.client.workflow.getHandle(child).describe();
          expect([child, description.status.name]).toEqual([child, 'CANCELLED']);
        }
      } else await maybeRecordHistory(server.client, sweepId, `sweep-cancelled-${kind}`);
    } finally {
      await stopProcess(trainer);
    }
  });
});
