import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { freePort, startDevServer } from '@grokmap/infra';
import { type ResultsStore, TEST_PAUSE_ENV, TEST_PAUSE_LOG, type TrialRecord } from '@grokmap/workers';
import type { SweepResult } from '@grokmap/workflows';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  logger,
  openTestStore,
  runCli,
  spawnCli,
  stopProcess,
  syntheticSpec,
  tempDir,
  waitFor,
  writeSpec,
} from '../support/harness.js';
import { activityAttempts, auditSweep, type ScenarioRow, writeTable } from './audit.js';

/**
 * Faults injected into running sweeps on a real Temporal dev server with
 * real worker processes: killed workers, a restarted server, plugins that
 * throw, hang, diverge or exhaust memory, a spent failure budget, a sweep
 * started twice, a cancel. After each, the store is audited against the
 * workflow's history: nothing lost, nothing duplicated. The control worker
 * is also killed at a known point: inside a suggestion and inside a store
 * write, held there by its test-only pause (GROKMAP_TEST_PAUSE_IN).
 * Temporal retries the lost attempt once its heartbeat timeout (30 s,
 * control-proxies.ts) runs out.
 */

type Worker = ReturnType<typeof spawnCli>;
type DevServer = Awaited<ReturnType<typeof startDevServer>>;

const MEMORY_LIMIT_MB = 400;
const rows: ScenarioRow[] = [];

describe('faults during a running sweep', () => {
  const home = tempDir('faults');
  const specDir = tempDir('fault-specs');
  const dbFile = path.join(home, 'temporal.db');
  const run = Date.now().toString(36);
  let port: number;
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  let store: ResultsStore;
  let control: Worker;
  let trainer: Worker;
  const extraWorkers: Worker[] = [];

  const env = () => cliEnv({ address: `127.0.0.1:${port}`, home }, 'sqlite');
  const startTrainer = () =>
    spawnCli(
      ['worker', '--queue', 'cpu', '--concurrency', '2', '--memory-limit-mb', String(MEMORY_LIMIT_MB)],
      env(),
    );

  /** A control worker; `pauseIn` names control activities it pauses in (test-only hook), after their work. */
  const startControl = (pauseIn?: string) =>
    spawnCli(
      ['worker', '--queue', 'control'],
      pauseIn ? { ...env(), [TEST_PAUSE_ENV]: pauseIn, GROKMAP_TEST_PAUSE_MS: '60000' } : env(),
    );

  /** Wait until the control worker logs that it holds `activity` of this sweep, its work done. */
  const pausedIn = (activity: string, sweepId: string) =>
    waitFor(
      `the control worker paused in ${activity}`,
      async () =>
        control
          .output()
          .split('\n')
          .some((line) => line.includes(`${TEST_PAUSE_LOG} ${activity}`) && line.includes(sweepId)),
      180_000,
    );

  /**
   * Start a sweep under a control worker that pauses in `activity` (its work done, its answer not yet
   * returned); once it holds this sweep there, run `atPause`, SIGKILL the worker and start a plain one.
   * Returns the sweep's id and result, and the seconds from start to result.
   */
  async function killControlIn(
    activity: string,
    name: string,
    spec: Record<string, unknown>,
    atPause: (sweepId: string) => Promise<void>,
  ): Promise<{ sweepId: string; res: SweepResult; seconds: number }> {
    await stopProcess(control);
    control = startControl(activity);
    let paused = true;
    const startedAt = Date.now();
    try {
      const sweepId = await start(name, spec);
      await pausedIn(activity, sweepId);
      await atPause(sweepId);
      await stopProcess(control, 'SIGKILL');
      control = startControl();
      paused = false;
      const res = await result(sweepId);
      return { sweepId, res, seconds: Math.round((Date.now() - startedAt) / 1000) };
    } finally {
      // Leave a control worker without the pause for the scenarios after this one.
      if (paused) {
        await stopProcess(control, 'SIGKILL');
        control = startControl();
      }
    }
  }

  beforeAll(async () => {
    port = await freePort();
    server = await startDevServer({ home, logger, ui: false, detached: false, port, dbFile });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: 'default' });
    store = await openTestStore('sqlite', home);
    control = startControl();
    trainer = startTrainer();
  });

  afterAll(async () => {
    const table = writeTable(rows);
    // Printed so it shows in CI output as well as in test-artifacts/faults.md.
    console.log(`\nfault-injection scenarios\n${table}\n`);
    for (const w of [trainer, control, ...extraWorkers]) if (w) await stopProcess(w, 'SIGKILL');
    await store?.close();
    await connection?.close();
    await server?.stop();
  });

  /** Start a sweep through the CLI and return its id. */
  async function start(name: string, spec: Record<string, unknown>): Promise<string> {
    const file = writeSpec(specDir, name, spec);
    const started = await runCli(['sweep', 'start', file, '--json'], env());
    expect(started.code, started.stderr).toBe(0);
    return (JSON.parse(started.stdout) as { sweepId: string }).sweepId;
  }

  /** The sweep's result; retried while the server is unreachable. */
  async function result(sweepId: string): Promise<SweepResult> {
    for (let i = 0; ; i++) {
      try {
        return (await client.workflow.getHandle(sweepId).result()) as SweepResult;
      } catch (err) {
        if (i >= 20 || (err as Error).name === 'WorkflowFailedError') throw err;
        await new Promise((r) => setTimeout(r, 2_000));
      }
    }
  }

  /** A row for the table, recorded up front so a scenario that fails early still shows as not survived. */
  function scenario(name: string, injected: string): ScenarioRow {
    const entry: ScenarioRow = { scenario: name, injected, survived: false, lost: 0, duplicated: 0 };
    rows.push(entry);
    return entry;
  }

  /** Audit the store against the workflow; fail if any started trial was lost or duplicated. */
  async function check(entry: ScenarioRow, sweepId: string) {
    const audit = await auditSweep(client, store, sweepId);
    entry.lost = audit.lost.length;
    entry.duplicated = audit.duplicated.length;
    expect(audit.started.length).toBeGreaterThan(0);
    expect(audit.lost, 'started trials without exactly one final record').toEqual([]);
    expect(audit.duplicated, 'trials recorded twice or never started').toEqual([]);
    return audit;
  }

  const quick = (name: string, extra: Record<string, unknown> = {}) =>
    syntheticSpec(`${name}-${run}`, {
      budget: { trials: 4, parallel: 2 },
      parameters: { weight_decay: { values: [0.1, 1] }, data_fraction: { values: [0.3, 0.7] } },
      fixed: { max_steps: 2000, eval_every: 100, model_size: 64, step_delay_ms: 80, checkpoint_every: 200 },
      limits: { heartbeat_timeout_s: 10, max_attempts: 5 },
      ...extra,
    });

  it('a trainer worker SIGKILLed mid-trial: the trial resumes from its checkpoint on another worker', async () => {
    const entry = scenario('trainer worker killed mid-trial', 'SIGKILL after a checkpoint');
    const spec = quick('kill-trainer', {
      fixed: { max_steps: 3000, eval_every: 100, model_size: 64, step_delay_ms: 120, checkpoint_every: 300 },
      limits: { heartbeat_timeout_s: 5, max_attempts: 5 },
    });
    const sweepId = await start('kill-trainer', spec);
    await waitFor(
      'a trial past its first checkpoint',
      async () => {
        const dir = path.join(home, 'checkpoints');
        if (!existsSync(dir)) return false;
        return readdirSync(dir).some(
          (d) => d.startsWith(sweepId) && readdirSync(path.join(dir, d)).some((f) => f.endsWith('.ckpt')),
        );
      },
      300_000,
    );
    await stopProcess(trainer, 'SIGKILL');
    trainer = startTrainer();
    const res = await result(sweepId);
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    expect(audit.records.every((t) => t.status === 'completed')).toBe(true);
    const resumed = audit.records.filter((t) => Number(t.outcome?.extra?.resumed_from ?? 0) > 0);
    expect(resumed.length, 'a retried trial resumed from its checkpoint').toBeGreaterThan(0);
    entry.note = `${resumed.length} trial(s) resumed from a checkpoint`;
    entry.survived = true;
  });

  it('the Temporal server restarted on its database file mid-sweep: the sweep finishes', async () => {
    const entry = scenario('Temporal server restarted', 'stop + start on the same db file and port');
    const sweepId = await start('restart-server', quick('restart-server'));
    await waitFor('a trial running', async () =>
      (await store.listTrials(sweepId)).some((t) => t.status === 'running'),
    );
    await server.stop();
    server = await startDevServer({ home, logger, ui: false, detached: false, port, dbFile });
    const res = await result(sweepId);
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    expect(audit.records.map((t) => t.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    entry.survived = true;
  });

  it('the control worker SIGKILLed mid-sweep: its tasks are retried, nothing written twice', async () => {
    const entry = scenario('control worker killed', 'SIGKILL while trials run');
    const sweepId = await start('kill-control', quick('kill-control'));
    await waitFor('a trial running', async () =>
      (await store.listTrials(sweepId)).some((t) => t.status === 'running'),
    );
    await stopProcess(control, 'SIGKILL');
    // Let trials finish while no control worker is there to take their results.
    await waitFor('a trial finished without a control worker', async () =>
      (await store.listTrials(sweepId)).some((t) => t.status === 'completed'),
    );
    control = startControl();
    const res = await result(sweepId);
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    expect(res.state.finished).toBe(4);
    expect(audit.records.every((t) => t.status === 'completed')).toBe(true);
    expect((await store.getSweep(sweepId))?.status).toBe('completed');
    entry.survived = true;
  });

  it('plugins that throw, hang, diverge or exhaust memory: each trial gets its own final status', async () => {
    const entry = scenario('plugin faults (one sweep)', 'fail: throw, nan, hang, oom');
    const spec = quick('plugin-faults', {
      budget: { trials: 4, parallel: 2 },
      parameters: { fail: { values: ['throw', 'nan', 'hang', 'oom'] } },
      fixed: { max_steps: 2000, eval_every: 100, model_size: 64, step_delay_ms: 40, fail_at_step: 500 },
      // Long enough that a trainer filling memory on a busy machine reaches the limit before it counts as hung.
      limits: { heartbeat_timeout_s: 20, max_attempts: 2 },
    });
    const sweepId = await start('plugin-faults', spec);
    const res = await result(sweepId);
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    const byFail = new Map(audit.records.map((t) => [String(t.params.fail), t]));
    const outcomes: [string, string, boolean][] = [];
    const expectTrial = (fail: string, status: string, reason: RegExp) => {
      const t = byFail.get(fail);
      const ok = t?.status === status && reason.test(t?.error ?? '');
      outcomes.push([fail, `${t?.status}`, ok]);
      rows.push({
        scenario: `plugin ${fail}`,
        injected: `fail: ${fail} at step 500`,
        survived: ok,
        lost: audit.lost.includes(t?.trialId ?? '') ? 1 : 0,
        duplicated: audit.duplicated.includes(t?.trialId ?? '') ? 1 : 0,
        note: `${t?.status}: ${(t?.error ?? '').split('; stderr')[0]?.slice(0, 120)}`,
      });
    };
    expectTrial('throw', 'error', /injected failure at step 500/);
    expectTrial('nan', 'diverged', /NaN/);
    // The stall watchdog follows the spec's heartbeat timeout (20 s), not the worker's 5-minute default.
    expectTrial('hang', 'timed_out', /no progress for 20 s/);
    expectTrial('oom', 'error', /memory/i);
    expect(outcomes).toEqual([
      ['throw', 'error', true],
      ['nan', 'diverged', true],
      ['hang', 'timed_out', true],
      ['oom', 'error', true],
    ]);
    // Out of memory is retried (max_attempts 2) before it is recorded.
    expect(byFail.get('oom')?.attempts).toBe(2);
    expect(byFail.get('throw')?.attempts).toBe(1);
    entry.survived = true;
  });

  it('a plugin that segfaults: only its trial fails, with the signal named; the worker stays up', async () => {
    const entry = scenario('plugin segfault', 'fail: segfault (a real SIGSEGV) in 2 of 4 trials');
    const spec = quick('segfault', {
      parameters: { data_fraction: { values: [0.3, 0.7] }, fail: { values: ['segfault', 'none'] } },
      fixed: { max_steps: 2000, eval_every: 100, model_size: 64, step_delay_ms: 20, fail_at_step: 500 },
      limits: { heartbeat_timeout_s: 10, max_attempts: 2 },
    });
    const trainerPid = trainer.pid;
    const sweepId = await start('segfault', spec);
    const res = await result(sweepId);
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    const crashed = audit.records.filter((t) => t.params.fail === 'segfault');
    const others = audit.records.filter((t) => t.params.fail === 'none');
    expect(crashed.map((t) => [t.status, t.attempts])).toEqual([
      ['error', 2],
      ['error', 2],
    ]);
    for (const t of crashed)
      expect(t.error).toMatch(
        /^TrialProcessCrashed: trial process killed by signal SIGSEGV \(segmentation fault\)/,
      );
    expect(others.map((t) => t.status)).toEqual(['completed', 'completed']);
    // The worker process that hosted the crashed trials is the one still running.
    expect(trainer.pid).toBe(trainerPid);
    expect([trainer.exitCode, trainer.signalCode]).toEqual([null, null]);
    entry.note = `${crashed[0]?.error?.split('; stderr')[0]} (after 2 attempts); the 2 other trials completed; trainer worker still up (same pid)`;
    entry.survived = true;
  });

  it('the control worker SIGKILLed inside a suggestion: retried, same trials as an undisturbed run', async () => {
    const entry = scenario(
      'control worker killed in suggestTrials',
      'SIGKILL while suggestTrials holds its proposal',
    );
    const bayes = (name: string) => ({
      name: `${name}-${run}`,
      trainer: 'synthetic',
      method: 'bayes',
      seed: 7,
      metric: { name: 'steps_to_generalize', goal: 'minimize' },
      budget: { trials: 8, parallel: 4 },
      parameters: {
        weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
        data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
      },
      fixed: { max_steps: 20000, eval_every: 100, model_size: 64, seed: 0 },
    });
    const calmId = await start('bayes-calm', bayes('bayes-calm'));
    const calm = await result(calmId);
    expect(calm.status).toBe('completed');

    const { sweepId, res, seconds } = await killControlIn(
      'suggestTrials',
      'bayes-rough',
      bayes('bayes-rough'),
      async (id) => {
        // The proposal is computed but has not reached the workflow: no trial is running yet.
        expect(await store.listTrials(id)).toEqual([]);
      },
    );
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    const attempts = await activityAttempts(client, sweepId, 'suggestTrials');
    expect(attempts[0], 'the killed suggestion was retried').toBeGreaterThanOrEqual(2);
    const calmTrials = await store.listTrials(calmId);
    expect(audit.records.map((t) => [t.index, t.params, t.status, t.phase])).toEqual(
      calmTrials.map((t) => [t.index, t.params, t.status, t.phase]),
    );
    expect(new Set(audit.records.map((t) => t.trialId)).size).toBe(audit.started.length);
    expect(audit.records.length).toBe(8);
    entry.note = `first suggestTrials ended on attempt ${attempts[0]}; ${audit.records.length} trials, the same as the undisturbed run; ${seconds} s (a lost attempt is noticed when its 30 s heartbeat timeout passes)`;
    entry.survived = true;
  });

  it('the control worker SIGKILLed inside a store write: retried, one record per trial', async () => {
    const entry = scenario(
      'control worker killed in recordTrialFailure',
      'SIGKILL after the failure record committed, before the activity returned',
    );
    const spec = quick('kill-in-write', {
      parameters: { data_fraction: { values: [0.3, 0.7] }, fail: { values: ['segfault', 'none'] } },
      fixed: { max_steps: 2000, eval_every: 100, model_size: 64, step_delay_ms: 20, fail_at_step: 500 },
      // One attempt: the crash goes straight to the workflow, which records it through the control worker.
      limits: { heartbeat_timeout_s: 10, max_attempts: 1 },
    });
    let written: TrialRecord[] = [];
    const { sweepId, res, seconds } = await killControlIn(
      'recordTrialFailure',
      'kill-in-write',
      spec,
      async (id) => {
        // The write has committed; the activity has not returned: its retry writes it again.
        written = (await store.listTrials(id)).filter(
          (t) => t.params.fail === 'segfault' && t.status === 'error',
        );
        expect(written.length).toBeGreaterThan(0);
      },
    );
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    const attempts = await activityAttempts(client, sweepId, 'recordTrialFailure');
    expect(attempts.length).toBe(2);
    expect(Math.max(...attempts), 'the killed write was retried').toBeGreaterThanOrEqual(2);
    const outcomes = audit.records.map((t) => [String(t.params.fail), t.status, t.attempts]);
    expect(outcomes.sort()).toEqual([
      ['none', 'completed', 1],
      ['none', 'completed', 1],
      ['segfault', 'error', 1],
      ['segfault', 'error', 1],
    ]);
    // Exactly one record per trial, and the retried write left the first one as it was.
    expect(new Set(audit.records.map((t) => t.trialId)).size).toBe(audit.records.length);
    expect(audit.records.length).toBe(audit.started.length);
    for (const w of written)
      expect(audit.records.find((t) => t.trialId === w.trialId)).toMatchObject({
        status: w.status,
        error: w.error,
        attempts: w.attempts,
      });
    for (const t of audit.records.filter((r) => r.status === 'error')) expect(t.error).toMatch(/SIGSEGV/);
    entry.note = `recordTrialFailure attempts ${attempts.join(', ')}; ${written.length} record(s) committed before the kill kept as written; ${seconds} s (a lost attempt is noticed when its 30 s heartbeat timeout passes)`;
    entry.survived = true;
  });

  it('the failure budget spent: the sweep stops, status failed, with a verdict', async () => {
    const entry = scenario('failure budget spent', 'every trial throws, max_failures 1');
    const spec = quick('budget', {
      budget: { trials: 6, parallel: 1, max_failures: 1 },
      parameters: { seed: { values: [0, 1, 2, 3, 4, 5] } },
      fixed: { max_steps: 1000, eval_every: 100, model_size: 64, fail: 'throw', fail_at_step: 100 },
    });
    const sweepId = await start('budget', spec);
    const res = await result(sweepId);
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('failed');
    expect(res.verdict).toMatch(/failure budget spent: 2 failed trials, budget.max_failures is 1/);
    expect(audit.started.length).toBe(2);
    expect(audit.records.map((t) => t.status)).toEqual(['error', 'error']);
    const sweep = await store.getSweep(sweepId);
    expect(sweep?.status).toBe('failed');
    expect(sweep?.verdict).toBe(res.verdict);
    entry.note = res.verdict ?? '';
    entry.survived = true;
  });

  it('the same sweep started twice at once: one workflow, one copy of each trial', async () => {
    const entry = scenario('same sweep started twice', 'two concurrent `sweep start`, then a third');
    const file = writeSpec(specDir, 'twice', quick('twice'));
    const [a, b] = await Promise.all([
      runCli(['sweep', 'start', file, '--json'], env()),
      runCli(['sweep', 'start', file, '--json'], env()),
    ]);
    // Each start either attaches to the running sweep or is refused; at least one started it.
    for (const r of [a, b]) expect(r.code === 0 || /already run/.test(r.stderr), r.stderr).toBe(true);
    const ok = [a, b].filter((r) => r.code === 0).map((r) => JSON.parse(r.stdout) as { sweepId: string });
    expect(ok.length).toBeGreaterThan(0);
    const sweepId = ok[0]!.sweepId;
    expect(new Set(ok.map((o) => o.sweepId))).toEqual(new Set([sweepId]));
    const res = await result(sweepId);
    const again = await runCli(['sweep', 'start', file, '--json'], env());
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already run/);
    const executions = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${sweepId}'` })) executions.push(w);
    const audit = await check(entry, sweepId);
    expect(res.status).toBe('completed');
    expect(executions.length).toBe(1);
    expect(audit.started.length).toBe(4);
    entry.note = `${ok.length} start(s) accepted, 1 workflow execution, third start refused`;
    entry.survived = true;
  });

  it('cancel: in-flight trials stop at their next heartbeat and are recorded cancelled', async () => {
    const entry = scenario('sweep cancelled', '`sweep cancel` with trials in flight');
    const spec = quick('cancel', {
      fixed: { max_steps: 20000, eval_every: 100, model_size: 64, step_delay_ms: 100 },
      limits: { heartbeat_timeout_s: 5, max_attempts: 3 },
    });
    const sweepId = await start('cancel', spec);
    await waitFor('two trials running', async () => {
      const trials = await store.listTrials(sweepId);
      return trials.filter((t) => t.status === 'running').length >= 2;
    });
    const cancelRequested = Date.now();
    const cancel = await runCli(['sweep', 'cancel', sweepId], env());
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/cancelled/);
    const audit = await check(entry, sweepId);
    const cancelled = audit.records.filter((t) => t.status === 'cancelled');
    // Reported, not asserted (timings vary with load): how long after the request the last one stopped.
    const lastStop = Math.max(
      ...cancelled.map((t) => Date.parse(t.finishedAt ?? '')).filter(Number.isFinite),
    );
    const stoppedAfter = Number.isFinite(lastStop)
      ? `, the last ${((lastStop - cancelRequested) / 1000).toFixed(1)} s after the request (heartbeat timeout 5 s)`
      : '';
    expect(cancelled.length).toBeGreaterThanOrEqual(2);
    expect((await store.getSweep(sweepId))?.status).toBe('cancelled');
    // The trainer worker is free again: its trials stopped rather than training on unseen. Its trial
    // processes are reused, and a cancelled trial's grace-period kill must not hit the next trial
    // (it did: attempts 2); with max_attempts 1 such a kill would fail the sweep.
    const after = await start(
      'after-cancel',
      quick('after-cancel', {
        fixed: { max_steps: 4000, eval_every: 100, model_size: 64, step_delay_ms: 150 },
        limits: { heartbeat_timeout_s: 10, max_attempts: 1 },
      }),
    );
    const afterResult = await result(after);
    const afterTrials = await store.listTrials(after);
    expect(afterTrials.map((t) => [t.status, t.attempts, t.error ?? ''])).toEqual(
      afterTrials.map(() => ['completed', 1, '']),
    );
    expect(afterResult.status).toBe('completed');
    entry.note = `${cancelled.length} in-flight trial(s) recorded cancelled${stoppedAfter}; worker free afterwards`;
    entry.survived = true;
  });
});
