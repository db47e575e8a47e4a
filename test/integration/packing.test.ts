import type { ResultsStore } from '@grokmap/workers';
import type { SweepResult } from '@grokmap/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditSweep, scheduledTrialActivities } from '../faults/audit.js';
import {
  checkpointedTrials,
  cliEnv,
  openTestStore,
  resumableSyntheticSpec,
  runCli,
  spawnCli,
  startTestServer,
  stopProcess,
  syntheticSpec,
  type TestServer,
  tempDir,
  waitFor,
  writeSpec,
} from '../support/harness.js';

/**
 * Trial packing (`resources.pack`) on the real server: the sweep sends its
 * trials to the worker in packs, one activity per pack, and each trial is
 * still recorded once, classified, and resumed from its own checkpoint
 * after a kill.
 */
describe('packed sweeps end to end', () => {
  let server: TestServer;
  let store: ResultsStore;
  let control: ReturnType<typeof spawnCli>;
  const dir = tempDir('pack-specs');
  const run = Date.now().toString(36);

  beforeAll(async () => {
    server = await startTestServer();
    store = await openTestStore('sqlite', server.home);
    control = spawnCli(['worker', '--queue', 'control'], cliEnv(server, 'sqlite'));
  });

  afterAll(async () => {
    if (control) await stopProcess(control);
    await store?.close();
    await server?.stop();
  });

  async function packsScheduled(sweepId: string): Promise<number[]> {
    const scheduled = await scheduledTrialActivities(server.client, sweepId);
    return scheduled.filter((a) => a.type === 'runTrialPack').map((a) => a.trialIds.length);
  }

  it('gives the same trials and phases as an unpacked sweep, in packs of the given size', async () => {
    const env = cliEnv(server, 'sqlite');
    const trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], env);
    try {
      const plain = writeSpec(dir, 'plain', syntheticSpec(`plain-${run}`));
      const packed = writeSpec(
        dir,
        'packed',
        syntheticSpec(`packed-${run}`, { budget: { trials: 12, parallel: 8 }, resources: { pack: 4 } }),
      );
      const a = await runCli(['sweep', 'start', plain, '--wait', '--json'], env);
      expect(a.code, a.stderr).toBe(0);
      const b = await runCli(['sweep', 'start', packed, '--wait', '--json'], env);
      expect(b.code, b.stderr).toBe(0);
      const plainOut = JSON.parse(a.stdout) as SweepResult;
      const packedOut = JSON.parse(b.stdout) as SweepResult;
      expect(packedOut.status).toBe('completed');
      expect(packedOut.state.byStatus).toEqual({ completed: 12 });
      expect(await packsScheduled(packedOut.sweepId)).toEqual([4, 4, 4]);
      expect(await packsScheduled(plainOut.sweepId)).toEqual([]);

      const audit = await auditSweep(server.client, store, packedOut.sweepId);
      expect(audit.started).toHaveLength(12);
      expect(audit.lost).toEqual([]);
      expect(audit.duplicated).toEqual([]);
      const strip = (ts: Awaited<ReturnType<ResultsStore['listTrials']>>) =>
        ts.map((t) => [t.index, t.params, t.phase, t.tTrain, t.tVal]);
      expect(strip(await store.listTrials(packedOut.sweepId))).toEqual(
        strip(await store.listTrials(plainOut.sweepId)),
      );
    } finally {
      await stopProcess(trainer);
    }
  });

  it('resumes each trial of a pack from its own checkpoint after the worker is SIGKILLed', async () => {
    const env = cliEnv(server, 'sqlite');
    const spec = resumableSyntheticSpec(
      `pack-kill-${run}`,
      { budget: { trials: 8, parallel: 8 }, resources: { pack: 4 } },
      40,
    );
    const file = writeSpec(dir, 'pack-kill', spec);
    const first = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], env);
    let second: ReturnType<typeof spawnCli> | undefined;
    try {
      const started = await runCli(['sweep', 'start', file, '--json'], env);
      expect(started.code, started.stderr).toBe(0);
      const { sweepId } = JSON.parse(started.stdout) as { sweepId: string };
      const checkpointed = () => checkpointedTrials(server.home, sweepId);
      await waitFor('four trials past their first checkpoint', async () => checkpointed().length >= 4);
      await stopProcess(first, 'SIGKILL');
      const hadCheckpoint = new Set(checkpointed());
      second = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], env);
      const result = (await server.client.workflow.getHandle(sweepId).result()) as SweepResult;
      expect(result.status).toBe('completed');
      expect(result.state.byStatus).toEqual({ completed: 8 });
      const audit = await auditSweep(server.client, store, sweepId);
      expect(audit.lost).toEqual([]);
      expect(audit.duplicated).toEqual([]);
      // (Checkpoint folders are named by trial id.) Every retried trial that had checkpointed went on from its own checkpoint, not from step 0.
      const resumable = audit.records.filter((t) => t.attempts > 1 && hadCheckpoint.has(t.trialId));
      expect(resumable.length).toBeGreaterThanOrEqual(4);
      for (const t of resumable)
        expect(Number(t.outcome?.extra?.resumed_from ?? 0), t.trialId).toBeGreaterThan(0);
    } finally {
      await stopProcess(first, 'SIGKILL');
      if (second) await stopProcess(second);
    }
  });
});
