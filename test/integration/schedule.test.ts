import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ResultsStore } from '@grokmap/workers';
import type { RegressionVerdict } from '@grokmap/workflows';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  openTestStore,
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
 * Scheduled regression sweeps end to end: Temporal Schedules on a real dev
 * server, control and trainer workers as processes, the synthetic trainer
 * (whose `shift` moves the phase boundary, like a change in training code),
 * and a local HTTP server standing in for the webhook.
 */
describe.each(storeKinds())('scheduled regression sweeps (%s store)', (kind: StoreKind) => {
  let server: TestServer;
  let store: ResultsStore;
  let specDir: string;
  let control: ReturnType<typeof spawnCli>;
  let trainer: ReturnType<typeof spawnCli>;
  let webhook: Server;
  let hookUrl: string;
  const hooks: { headers: Record<string, unknown>; body: Record<string, unknown> }[] = [];
  const run = `${kind}-${Date.now().toString(36)}`;
  const env = () => cliEnv(server, kind);

  beforeAll(async () => {
    server = await startTestServer();
    store = await openTestStore(kind, server.home);
    specDir = tempDir('schedule-specs');
    control = spawnCli(['worker', '--queue', 'control'], env());
    trainer = spawnCli(['worker', '--queue', 'cpu', '--concurrency', '2'], env());
    webhook = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => {
        text += d.toString();
      });
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    if (trainer) await stopProcess(trainer);
    if (control) await stopProcess(control);
    webhook?.close();
    await store?.close();
    await server?.stop();
  });

  /** 3 weight decays × 3 data fractions × 2 seeds; `shift` moves the true boundary. */
  function nightlySpec(shift: number): Record<string, unknown> {
    return syntheticSpec(`nightly-${run}`, {
      budget: { trials: 18, parallel: 4 },
      parameters: {
        weight_decay: { values: [0.1, 0.3, 1] },
        data_fraction: { values: [0.2, 0.45, 0.7] },
        seed: { values: [0, 1] },
      },
      fixed: { max_steps: 20000, eval_every: 100, model_size: 64, shift },
      regression: { max_changed_cells: 0.1, max_boundary_shift: 0.1 },
    });
  }

  async function triggerAndWait(name: string) {
    const result = await runCli(['schedule', 'trigger', name, '--wait', '--json'], env());
    const verdict = result.stdout.trim().startsWith('{')
      ? (JSON.parse(result.stdout) as RegressionVerdict & { workflowId: string })
      : undefined;
    return { ...result, verdict };
  }

  it('passes reruns, reports a moved boundary as regressed and crashing training code as failed, a webhook each, and gates CI on both', async () => {
    const name = `nightly-${run}`;
    const bad = writeSpec(specDir, 'bad', { ...nightlySpec(0), budget: { trials: -1 } });
    const refused = await runCli(['schedule', 'create', name, bad, '--cron', '0 3 * * *'], env());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/budget\.trials/);

    const file = writeSpec(specDir, 'nightly', nightlySpec(0));
    const created = await runCli(
      ['schedule', 'create', name, file, '--cron', '0 3 * * *', '--webhook', hookUrl],
      env(),
    );
    expect(created.code, created.stderr).toBe(0);
    const again = await runCli(['schedule', 'create', name, file, '--cron', '0 3 * * *'], env());
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);

    const first = await triggerAndWait(name);
    expect(first.code, first.stderr).toBe(0);
    expect(first.verdict?.verdict).toBe('baseline');

    const second = await triggerAndWait(name);
    expect(second.code, second.stderr).toBe(0);
    expect(second.verdict?.verdict).toBe('pass');
    expect(second.verdict?.baselineSweepId).toBe(first.verdict?.sweepId);
    expect(second.verdict?.comparedCells).toBe(9);
    expect(second.verdict?.changedCells).toEqual([]);
    expect(hooks).toEqual([]);

    const shifted = writeSpec(specDir, 'shifted', nightlySpec(0.3));
    const updated = await runCli(['schedule', 'update', name, shifted], env());
    expect(updated.code, updated.stderr).toBe(0);

    const third = await triggerAndWait(name);
    expect(third.code, third.stderr).toBe(3);
    const verdict = third.verdict!;
    expect(verdict.verdict).toBe('regressed');
    expect(verdict.baselineSweepId).toBe(second.verdict?.sweepId);
    expect(verdict.changedShare).toBeGreaterThan(0.1);
    expect(verdict.boundary?.shifts.some((s) => s.exceeds && s.shift > 0)).toBe(true);

    await maybeRecordHistory(server.client, verdict.workflowId, `regression-regressed-${kind}`);

    // The notification went out once, before the workflow returned, and names both sweeps.
    expect(hooks).toHaveLength(1);
    const hook = JSON.stringify(hooks[0]!.body);
    expect(hook).toContain(verdict.sweepId);
    expect(hook).toContain(second.verdict!.sweepId);
    expect(hooks[0]!.body.verdict).toBe('regressed');

    // The page with both phase maps sits beside the sweep's report.
    expect(verdict.reportFile).toBe(path.join(server.home, 'reports', verdict.sweepId, 'regression.html'));
    expect(existsSync(verdict.reportFile!)).toBe(true);
    const html = readFileSync(verdict.reportFile!, 'utf8');
    expect(html).toContain(second.verdict!.sweepId);
    expect(html).toContain('<svg');

    // Training code that now crashes on every trial: the run fails, notifies, and exits 6.
    const crashing = writeSpec(specDir, 'crashing', {
      ...nightlySpec(0),
      fixed: { max_steps: 20000, eval_every: 100, model_size: 64, fail: 'throw', fail_at_step: 100 },
    });
    expect((await runCli(['schedule', 'update', name, crashing], env())).code).toBe(0);
    const fourth = await triggerAndWait(name);
    expect(fourth.code, fourth.stderr).toBe(6);
    expect(fourth.verdict?.verdict).toBe('failed');
    expect(fourth.verdict?.reasons[0]).toMatch(
      /^no trial of the sweep was classified: 18 of its 18 trials failed/,
    );
    expect(hooks.map((h) => [h.body.verdict, h.body.sweepId])).toEqual([
      ['regressed', verdict.sweepId],
      ['failed', fourth.verdict?.sweepId],
    ]);

    const listed = await runCli(['regression', 'list', '--schedule', name, '--json'], env());
    expect(listed.code, listed.stderr).toBe(0);
    const records = JSON.parse(listed.stdout) as { sweepId: string; verdict: string }[];
    expect(records.map((r) => r.verdict)).toEqual(['failed', 'regressed', 'pass', 'baseline']);
    expect(records[1]!.sweepId).toBe(verdict.sweepId);
    expect((await store.listRegressions({ scheduleName: name })).length).toBe(4);

    const described = await runCli(['schedule', 'describe', name, '--json'], env());
    expect(described.code, described.stderr).toBe(0);
    const d = JSON.parse(described.stdout) as { runs: { verdict: string }[]; baseline: string };
    expect(d.runs.map((r) => r.verdict)).toEqual(['baseline', 'pass', 'regressed', 'failed']);
    expect(d.baseline).toBe('last-pass');

    expect((await runCli(['schedule', 'pause', name], env())).code).toBe(0);
    expect((await server.client.schedule.getHandle(name).describe()).state.paused).toBe(true);
    expect((await runCli(['schedule', 'unpause', name], env())).code).toBe(0);
    expect((await server.client.schedule.getHandle(name).describe()).state.paused).toBe(false);
    const list = await runCli(['schedule', 'list', '--json'], env());
    expect((JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name)).toContain(name);
    expect((await runCli(['schedule', 'delete', name], env())).code).toBe(0);
    const gone = await runCli(['schedule', 'describe', name], env());
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/no schedule named/);
    expect(hooks).toHaveLength(2);
  });

  it('--every, --paused and a pinned --baseline <sweep-id>: each run compares with that sweep', async () => {
    const name = `pinned-${run}`;
    const file = writeSpec(specDir, 'pinned', { ...nightlySpec(0), name: `pinned-${run}` });
    const started = await runCli(['sweep', 'start', file, '--wait', '--json'], env());
    expect(started.code, started.stderr).toBe(0);
    const pinned = (JSON.parse(started.stdout) as { sweepId: string }).sweepId;
    expect(pinned).toBeTruthy();
    const badEvery = await runCli(['schedule', 'create', name, file, '--every', 'nightly'], env());
    expect(badEvery.code).toBe(2);
    expect(badEvery.stderr).toMatch(/--every 'nightly'/);
    const created = await runCli(
      ['schedule', 'create', name, file, '--every', '6h', '--baseline', pinned, '--paused'],
      env(),
    );
    expect(created.code, created.stderr).toBe(0);
    const handle = server.client.schedule.getHandle(name);
    const described = await handle.describe();
    expect(described.state.paused).toBe(true);
    expect((described.spec.intervals ?? []).map((i) => i.every)).toEqual([6 * 3600 * 1000]);
    const memo = await runCli(['schedule', 'describe', name, '--json'], env());
    expect(memo.code, memo.stderr).toBe(0);
    expect(JSON.parse(memo.stdout)).toMatchObject({ when: 'every 6h', baseline: pinned });
    // A paused schedule still runs when triggered by hand.
    const first = await triggerAndWait(name);
    expect(first.code, first.stderr).toBe(0);
    expect(first.verdict?.verdict).toBe('pass');
    expect(first.verdict?.baselineSweepId).toBe(pinned);
    expect(first.verdict?.sweepId).not.toBe(pinned);
    await handle.delete();
  });

  /** Two trials slowed down so a second trigger lands while the first run is still going. */
  function slowSpec(name: string): string {
    return writeSpec(
      specDir,
      name,
      syntheticSpec(name, {
        budget: { trials: 2, parallel: 2 },
        parameters: {
          weight_decay: { values: [1] },
          data_fraction: { values: [0.5] },
          seed: { values: [0, 1] },
        },
        fixed: { max_steps: 2000, eval_every: 100, model_size: 64, step_delay_ms: 250 },
      }),
    );
  }

  async function startFirstRun(name: string, overlap: 'skip' | 'buffer'): Promise<string> {
    const created = await runCli(
      ['schedule', 'create', name, slowSpec(name), '--cron', '0 3 * * *', '--overlap', overlap],
      env(),
    );
    expect(created.code, created.stderr).toBe(0);
    const triggered = await runCli(['schedule', 'trigger', name], env());
    expect(triggered.code, triggered.stderr).toBe(0);
    const handle = server.client.schedule.getHandle(name);
    const running = await waitFor('the first run to start', async () => {
      const d = await handle.describe();
      return d.info.runningActions[0]?.workflow.workflowId;
    });
    return running;
  }

  it('overlap skip: a trigger while a run is going is skipped', async () => {
    const name = `skip-${run}`;
    const firstId = await startFirstRun(name, 'skip');
    const second = await triggerAndWait(name);
    expect(second.code, second.stdout + second.stderr).toBe(5);
    expect(second.stderr).toMatch(/skipped/);
    const first = (await server.client.workflow.getHandle(firstId).result()) as RegressionVerdict;
    expect(first.verdict).toBe('baseline');
    const d = await server.client.schedule.getHandle(name).describe();
    expect(d.info.recentActions.map((a) => a.action.workflow.workflowId)).toEqual([firstId]);
    expect(d.info.runningActions).toEqual([]);
    await server.client.schedule.getHandle(name).delete();
  });

  it('overlap buffer: a trigger while a run is going starts once it finishes', async () => {
    const name = `buffer-${run}`;
    const firstId = await startFirstRun(name, 'buffer');
    const second = await triggerAndWait(name);
    expect(second.code, second.stderr).toBe(0);
    expect(second.verdict?.workflowId).not.toBe(firstId);
    expect(second.verdict?.verdict).toBe('pass');
    // Buffered, not overlapping: the second run compared itself with the finished first one.
    const first = (await server.client.workflow.getHandle(firstId).result()) as RegressionVerdict;
    expect(second.verdict?.baselineSweepId).toBe(first.sweepId);
    const second_ = await server.client.workflow.getHandle(second.verdict!.workflowId).describe();
    const first_ = await server.client.workflow.getHandle(firstId).describe();
    expect(second_.startTime.getTime()).toBeGreaterThanOrEqual(first_.closeTime!.getTime());
    await server.client.schedule.getHandle(name).delete();
  });
});
