import { existsSync } from 'node:fs';
import type { ResultsStore, SweepRecord } from '@grokmap/workers';
import { CONTROL_TASK_QUEUE, type SweepInput, type SweepProgress, sweepSpecSchema } from '@grokmap/workflows';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledTrialActivities } from '../faults/audit.js';
import {
  cliEnv,
  openTestStore,
  runCli,
  spawnCli,
  startTestServer,
  stopProcess,
  syntheticSpec,
  type TestServer,
  waitFor,
} from '../support/harness.js';

/**
 * A sweep followed while it runs: the sliding window of `budget.parallel` trials (seen through the
 * `progress` query and in the workflow's history), `sweep status --json` on every poll,
 * `sweep watch` drawing its phase grid as it fills in (on a pseudo-terminal, and plain when piped),
 * and `sweep status` once it is done. Running trials' steps come from their heartbeats, and
 * nothing about progress enters the sweep's history. Real dev server, real worker processes, SQLite store.
 */

const PLANNED = 8;
const PARALLEL = 2;

interface StatusJson {
  sweep: SweepRecord | null;
  progress?: SweepProgress;
  report?: string;
  trials: number;
}

/** What `sweep watch` writes on a terminal before each redraw: cursor up over the last frame, erase below. */
const ESC = String.fromCharCode(27);
const REDRAW = new RegExp(`${ESC}\\[\\d+A${ESC}\\[J`);
const CLASSIFIED = /^[CGMX~]$/;

const sum = (counts: Record<string, number | undefined>): number =>
  Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0);

/**
 * The most trainer activities ever open at once, from the order of the history's events: a
 * `runTrial` is open from its ActivityTaskScheduled event until the event that closes it.
 */
async function maxTrialActivitiesInFlight(client: Client, sweepId: string): Promise<number> {
  const history = await client.workflow.getHandle(sweepId).fetchHistory();
  const open = new Set<string>();
  let max = 0;
  for (const event of history.events ?? []) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'runTrial') {
      open.add(String(event.eventId));
      max = Math.max(max, open.size);
    }
    const closed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (closed) open.delete(String(closed.scheduledEventId));
  }
  expect(open.size).toBe(0);
  return max;
}

/** The cells of each phase grid in `text`, row by row (`.` pending, a letter once classified, '' for no trial). */
function phaseGrids(text: string): string[][][] {
  const lines = text.replaceAll('\r', '').split('\n');
  const grids: string[][][] = [];
  for (let i = 0; i < lines.length; i++) {
    const header = /^(\s*)data_fraction \\ weight_decay$/.exec(lines[i]!);
    if (!header) continue;
    const label = lines[i]!.indexOf('\\') - 1;
    const rows: string[][] = [];
    for (let j = i + 2; j < lines.length && /^\s*[\d.]+ {3}/.test(lines[j]!); j++)
      rows.push((lines[j]!.slice(label + 3).match(/.{5}/g) ?? []).map((c) => c.trim()));
    grids.push(rows);
  }
  return grids;
}

/** Every cell of the 2 × 2 grid (data fraction × weight decay) has a phase. */
function expectFullyClassified(grid: string[][] | undefined): void {
  expect(grid).toHaveLength(2);
  for (const row of grid ?? []) {
    expect(row).toHaveLength(2);
    for (const cell of row) expect(cell).toMatch(CLASSIFIED);
  }
}

describe('sweep progress: the window, sweep status and sweep watch (sqlite store)', () => {
  let server: TestServer;
  let store: ResultsStore;
  let env: NodeJS.ProcessEnv;
  let control: ReturnType<typeof spawnCli>;
  let trainer: ReturnType<typeof spawnCli>;

  beforeAll(async () => {
    server = await startTestServer();
    store = await openTestStore('sqlite', server.home);
    env = cliEnv(server, 'sqlite');
    control = spawnCli(['worker', '--queue', 'control'], env);
    // Room for twice the window: only budget.parallel may limit how many trials run. Steps reach the
    // server every 200 ms (heartbeats) rather than every 5 s, so these seconds-long trials show some.
    trainer = spawnCli(
      ['worker', '--queue', 'cpu', '--concurrency', String(2 * PARALLEL), '--progress-every', '0.2'],
      env,
    );
  });

  afterAll(async () => {
    if (trainer) await stopProcess(trainer);
    if (control) await stopProcess(control);
    await store?.close();
    await server?.stop();
  });

  it('keeps at most budget.parallel trials in flight, reports them live, and watch follows to the end', async () => {
    // 2 × 2 cells × 2 seeds; ~70 evaluations of 60 ms make each trial last seconds.
    const spec = sweepSpecSchema.parse(
      syntheticSpec(`progress-${Date.now().toString(36)}`, {
        budget: { trials: PLANNED, parallel: PARALLEL },
        parameters: {
          weight_decay: { values: [0.1, 1] },
          data_fraction: { values: [0.3, 0.7] },
          seed: { values: [0, 1] },
        },
        fixed: { max_steps: 2000, eval_every: 100, model_size: 64, step_delay_ms: 60 },
      }),
    );
    const sweepId = spec.name;
    await server.client.workflow.start('sweepWorkflow', {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: sweepId,
      args: [{ sweepId, spec } satisfies SweepInput],
    });
    const watchTty = spawnCli(['sweep', 'watch', sweepId], env, { tty: true });
    const watchPlain = spawnCli(['sweep', 'watch', sweepId], env);
    try {
      // Poll `sweep status --json` until the workflow has closed, checking every answer.
      const polls: SweepProgress[] = [];
      const pollStatus = async (): Promise<StatusJson> => {
        const status = await runCli(['sweep', 'status', sweepId, '--json'], env);
        expect(status.code, status.stderr).toBe(0);
        const out = JSON.parse(status.stdout) as StatusJson;
        const p = out.progress;
        expect(p, 'the progress query answers').toBeDefined();
        if (!p) return out;
        expect(p.planned).toBe(PLANNED);
        expect(p.running.length).toBeLessThanOrEqual(PARALLEL);
        expect(new Set(p.running.map((r) => r.trialId)).size).toBe(p.running.length);
        for (const r of p.running) {
          expect(r.index).toBeGreaterThanOrEqual(0);
          expect(r.index).toBeLessThan(PLANNED);
        }
        expect(p.started).toBe(p.finished + p.running.length);
        expect(p.finished + p.running.length).toBeLessThanOrEqual(PLANNED);
        expect(sum(p.byStatus)).toBe(p.finished);
        // Every trial here completes, and a completed synthetic trial is always classified.
        expect(sum(p.byPhase)).toBe(p.finished);
        expect(out.trials).toBeGreaterThanOrEqual(p.finished);
        if (polls.length > 0) expect(p.finished).toBeGreaterThanOrEqual(polls.at(-1)!.finished);
        polls.push(p);
        return out;
      };
      const handle = server.client.workflow.getHandle(sweepId);
      await waitFor(
        'the sweep to close',
        async () => {
          await pollStatus();
          return (await handle.describe()).status.name !== 'RUNNING';
        },
        300_000,
      );
      const last = await pollStatus();
      expect(last.sweep?.status).toBe('completed');
      expect(polls.some((p) => p.running.length > 0 && p.finished < PLANNED)).toBe(true);
      expect(polls.some((p) => p.running.some((r) => (r.step ?? 0) > 0))).toBe(true);
      expect(last.progress).toMatchObject({
        finished: PLANNED,
        started: PLANNED,
        running: [],
        byStatus: { completed: PLANNED },
      });
      expect(sum(last.progress!.byPhase)).toBe(PLANNED);
      expect(last.trials).toBe(PLANNED);
      expect(last.report).toMatch(/report\.html$/);

      // The workflow's own record: each trial scheduled once, never more than the window open at once.
      const scheduled = await scheduledTrialActivities(server.client, sweepId);
      expect(scheduled.every((a) => a.type === 'runTrial' && a.trialIds.length === 1)).toBe(true);
      expect(new Set(scheduled.flatMap((a) => a.trialIds)).size).toBe(PLANNED);
      expect(scheduled).toHaveLength(PLANNED);
      expect(await maxTrialActivitiesInFlight(server.client, sweepId)).toBe(PARALLEL);
      // Steps were shown (above) without one signal: progress writes nothing to the sweep's history,
      // which long trials on many GPUs would otherwise fill past Temporal's limit.
      const history = await server.client.workflow.getHandle(sweepId).fetchHistory();
      expect(history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);

      // Both watchers end by themselves once the sweep closes, with exit code 0.
      for (const watcher of [watchTty, watchPlain])
        await waitFor('sweep watch to exit', async () => watcher.exitCode !== null, 120_000);
      expect(watchTty.exitCode, watchTty.output()).toBe(0);
      expect(watchPlain.exitCode, watchPlain.output()).toBe(0);

      // On a terminal: frames redrawn in place, the grid pending early and fully classified at the end.
      const frames = watchTty.output().split(REDRAW);
      const grids = frames.flatMap((f) => phaseGrids(f));
      expect(frames.length).toBeGreaterThan(1);
      const pendingAt = grids.findIndex((g) => g.flat().includes('.'));
      expect(pendingAt, watchTty.output()).toBeGreaterThanOrEqual(0);
      // Cells only ever go from pending to classified, and some frame shows the grid part-way.
      const classified = grids.map((g) => g.flat().filter((c) => CLASSIFIED.test(c)).length);
      expect(classified).toEqual([...classified].sort((a, b) => a - b));
      expect(classified.some((n) => n > 0 && n < 4)).toBe(true);
      expectFullyClassified(grids.at(-1));
      expect(watchTty.output()).toMatch(/step [1-9]\d*/);
      expect(watchTty.output()).toMatch(new RegExp(`${PLANNED}/${PLANNED}`));
      expect(watchTty.output().replaceAll('\r', '')).toMatch(new RegExp(`sweep ${sweepId}: completed\\n?$`));

      // Piped: one progress line per change, counts only rising, then the final grid and status.
      const plain = watchPlain.output();
      const done = [...plain.matchAll(/\] (\d+)\/(\d+) trials {2}running (\d+)/g)].map((m) => ({
        finished: Number(m[1]),
        planned: Number(m[2]),
        running: Number(m[3]),
      }));
      expect(done.length, plain).toBeGreaterThan(1);
      expect(done.every((d) => d.planned === PLANNED && d.running <= PARALLEL)).toBe(true);
      expect(done.map((d) => d.finished)).toEqual(done.map((d) => d.finished).sort((a, b) => a - b));
      expect(done.at(-1)!.finished).toBe(PLANNED);
      const plainGrids = phaseGrids(plain);
      expect(plainGrids).toHaveLength(1);
      expectFullyClassified(plainGrids[0]);
      expect(plain).toMatch(new RegExp(`sweep ${sweepId}: completed\\n$`));

      // Once done, the human status: completed counts, the grid, and where the report is.
      const status = await runCli(['sweep', 'status', sweepId], env);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`^sweep ${sweepId} {2}completed`));
      expect(status.stdout).toContain(`trials: ${PLANNED}/${PLANNED} finished, 0 running`);
      expect(status.stdout).toContain(`by status: {"completed":${PLANNED}}`);
      expectFullyClassified(phaseGrids(status.stdout)[0]);
      const report = /^report: (.+)$/m.exec(status.stdout)?.[1];
      expect(report).toBe(last.report);
      expect(existsSync(report!)).toBe(true);
    } finally {
      await stopProcess(watchTty);
      await stopProcess(watchPlain);
    }
  });
});
