import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SamplerResult } from '@grokmap/analysis/sampler-types';
import { initialSamplerState, leaveInStore, observeTrials, proposeTrials } from '@grokmap/analysis/samplers';
import { type PlannedTrial, type RecordTrialFailureInput, sweepSpecSchema } from '@grokmap/workflows';
import { asyncLocalStorage, Context, type Info } from '@temporalio/activity';
import { noopMetricMeter, type Logger as TemporalLogger } from '@temporalio/common';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { ResultsStore } from '../store/types.js';
import { createControlActivities, TEST_PAUSE_ENV, TEST_PAUSE_LOG } from './control-activities.js';

/** A logger that keeps its lines, to see whether the test-only pause announced itself. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

const failure = (trialId: string): RecordTrialFailureInput => ({
  sweepId: 'sweep-a',
  trial: { trialId, index: 0, params: { weight_decay: 1 } },
  status: 'error',
  attempts: 1,
  reason: 'TrialProcessCrashed: trial process killed by signal SIGSEGV (segmentation fault)',
});

describe('control activities: the test-only pause (GROKMAP_TEST_PAUSE_IN)', () => {
  const home = mkdtempSync(join(tmpdir(), 'grokmap-control-'));
  const store = openSqliteStore({ path: join(home, 'grokmap.db') });

  beforeAll(async () => {
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
  });

  it('does nothing when unset', async () => {
    const { logger, lines } = capturingLogger();
    const activities = createControlActivities({ store, logger }, {});
    expect(await activities.recordTrialFailure(failure('t-unset'))).toEqual({ recorded: true });
    expect(lines.join('')).not.toContain(TEST_PAUSE_LOG);
  });

  it('pauses the named activity after its write committed, and announces it', async () => {
    const { logger, lines } = capturingLogger();
    const env = { [TEST_PAUSE_ENV]: 'suggestTrials, recordTrialFailure', GROKMAP_TEST_PAUSE_MS: '400' };
    const activities = createControlActivities({ store, logger }, env);
    const running = activities.recordTrialFailure(failure('t-paused'));
    // While it sleeps, the failure is already in the store: a kill now tests the retried write.
    await expect
      .poll(() => lines.some((l) => l.includes(`${TEST_PAUSE_LOG} recordTrialFailure`)), { timeout: 2_000 })
      .toBe(true);
    expect((await store.getTrial('t-paused'))?.status).toBe('error');
    expect(await running).toEqual({ recorded: true });
    // The retry after a kill is a no-op: one record.
    expect(await activities.recordTrialFailure(failure('t-paused'))).toMatchObject({
      recorded: false,
      stored: { status: 'error', phase: null },
    });
    expect((await store.listTrials('sweep-a')).filter((t) => t.trialId === 't-paused')).toHaveLength(1);
  });
});

describe('control activities: bookkeeping', () => {
  const home = mkdtempSync(join(tmpdir(), 'grokmap-control-'));
  const store = openSqliteStore({ path: join(home, 'grokmap.db') });
  const { logger } = capturingLogger();

  beforeAll(async () => {
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
  });

  it('a failure recorded for a trial that already finished writes nothing and says how it ended', async () => {
    const activities = createControlActivities({ store, logger }, {});
    // A pack's trial that completed before its pack failed for good.
    await store.recordTrialResult({
      sweepId: 'sweep-b',
      trialId: 't-done',
      index: 3,
      params: { weight_decay: 1 },
      attempts: 1,
      outcome: {
        status: 'completed',
        steps: 100,
        maxSteps: 100,
        firstStepAtThreshold: { train: 20, val: 90 },
        final: { trainAcc: 1, valAcc: 1, trainLoss: 0.01 },
        curves: [{ step: 100, trainAcc: 1, valAcc: 1, trainLoss: 0.01 }],
      },
      phase: 'grokking',
      tTrain: 20,
      tVal: 90,
      ratio: 4.5,
      valAtTrain: 0.2,
      semiGrokking: false,
    });
    const before = await store.getTrial('t-done');
    const input = {
      ...failure('t-done'),
      sweepId: 'sweep-b',
      trial: { trialId: 't-done', index: 3, params: {} },
    };
    expect(await activities.recordTrialFailure(input)).toEqual({
      recorded: false,
      stored: { status: 'completed', phase: 'grokking', metric: null },
    });
    // A bayes sweep's failure says its metric, so the trial counts with the metric it reached.
    expect(await activities.recordTrialFailure({ ...input, metricName: 'steps_to_generalize' })).toEqual({
      recorded: false,
      stored: { status: 'completed', phase: 'grokking', metric: 90 },
    });
    expect(await store.getTrial('t-done')).toEqual(before);
  });

  it('finishSweep sets the final status before the report is drawn, then records where the report is', async () => {
    const now = new Date().toISOString();
    await store.saveSweep({
      sweepId: 'sweep-c',
      name: 'c',
      trainer: 'synthetic',
      method: 'grid',
      spec: {},
      status: 'running',
      plannedTrials: 0,
      createdAt: now,
      updatedAt: now,
    });
    const seenByReport: string[] = [];
    const activities = createControlActivities(
      {
        store,
        logger,
        writeReport: async (sweepId) => {
          seenByReport.push((await store.getSweep(sweepId))!.status);
          return join(home, 'reports', sweepId);
        },
      },
      {},
    );
    const out = await activities.finishSweep({
      sweepId: 'sweep-c',
      status: 'completed',
      verdict: 'all trials ran',
      writeReport: true,
    });
    expect(seenByReport).toEqual(['completed']);
    expect(out.reportDir).toBe(join(home, 'reports', 'sweep-c'));
    expect(await store.getSweep('sweep-c')).toMatchObject({
      status: 'completed',
      verdict: 'all trials ran',
      reportDir: join(home, 'reports', 'sweep-c'),
    });
  });
});

/**
 * An activity context like the worker's, recording heartbeats. (@temporalio/testing's
 * MockActivityEnvironment does the same, but that package is a dependency of test/ and infra/,
 * not of workers/, so it does not resolve here.)
 */
function fakeActivity(activityType: string) {
  const heartbeats: number[] = [];
  const quiet = () => undefined;
  const log: TemporalLogger = {
    log: quiet,
    trace: quiet,
    debug: quiet,
    info: quiet,
    warn: quiet,
    error: quiet,
  };
  const context = new Context(
    { activityType, attempt: 1, heartbeatTimeoutMs: 30_000 } as Info,
    new Promise<never>(() => undefined),
    new AbortController().signal,
    () => heartbeats.push(Date.now()),
    undefined,
    log,
    noopMetricMeter,
    {},
  );
  return { heartbeats, run: <T>(fn: () => Promise<T>) => asyncLocalStorage.run(context, fn) };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('control activities: heartbeats', () => {
  const INTERVAL = 1_000;
  const { logger } = capturingLogger();
  const finish = { sweepId: 'sweep-h', status: 'completed', writeReport: true } as const;

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A store whose status writes are instant, and a report that ends when the test says so. */
  function slowReport() {
    const report = deferred<string>();
    const store = { setSweepStatus: async () => undefined } as unknown as ResultsStore;
    const activities = createControlActivities(
      { store, logger, writeReport: () => report.promise },
      {},
      INTERVAL,
    );
    return { report, activities };
  }

  it('heartbeat while a long call runs, and stop once it returns', async () => {
    const { report, activities } = slowReport();
    const activity = fakeActivity('finishSweep');
    const running = activity.run(() => activities.finishSweep(finish));
    await vi.advanceTimersByTimeAsync(3.5 * INTERVAL);
    // One at the start, one per interval since.
    expect(activity.heartbeats).toHaveLength(4);
    report.resolve('/reports/sweep-h');
    expect(await running).toEqual({ reportDir: '/reports/sweep-h' });
    const atEnd = activity.heartbeats.length;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(activity.heartbeats).toHaveLength(atEnd);
  });

  it('stop heartbeating when the call throws', async () => {
    const write = deferred<void>();
    const store = { setSweepStatus: () => write.promise } as unknown as ResultsStore;
    const activities = createControlActivities({ store, logger }, {}, INTERVAL);
    const activity = fakeActivity('finishSweep');
    const running = activity.run(() => activities.finishSweep(finish));
    const failed = expect(running).rejects.toThrow('store unreachable');
    await vi.advanceTimersByTimeAsync(2.5 * INTERVAL);
    expect(activity.heartbeats).toHaveLength(3);
    write.reject(new Error('store unreachable'));
    await failed;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(activity.heartbeats).toHaveLength(3);
  });

  it('start no timer when called outside an activity, as in the other tests here', async () => {
    const { report, activities } = slowReport();
    const running = activities.finishSweep(finish);
    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    expect(vi.getTimerCount()).toBe(0);
    report.resolve('/reports/sweep-h');
    expect(await running).toEqual({ reportDir: '/reports/sweep-h' });
  });

  it('wrap every control activity: each heartbeats as it starts and leaves no timer behind', async () => {
    // A store that fails every call: each activity heartbeats, then fails on its first store call or input.
    const store = new Proxy(
      {},
      { get: () => async () => Promise.reject(new Error('no store')) },
    ) as ResultsStore;
    const activities = createControlActivities({ store, logger }, {}, INTERVAL);
    const names = Object.keys(activities).sort();
    expect(names).toEqual(['finishSweep', 'recordTrialFailure', 'registerSweep', 'suggestTrials']);
    for (const name of names as (keyof typeof activities)[]) {
      const activity = fakeActivity(name);
      const call = activities[name] as (input: never) => Promise<unknown>;
      await activity.run(() => call({} as never)).catch(() => undefined);
      expect(activity.heartbeats.length, name).toBeGreaterThanOrEqual(1);
      expect(vi.getTimerCount(), name).toBe(0);
    }
  });
});

describe('control activities: a bayes suggestion', () => {
  it('heartbeats between its points, and suggests what the synchronous sampler would', async () => {
    const spec = sweepSpecSchema.parse({
      name: 'heartbeat-bayes',
      trainer: 'synthetic',
      method: 'bayes',
      seed: 5,
      metric: { name: 'val_loss', goal: 'minimize' },
      budget: { trials: 60, parallel: 8 },
      parameters: {
        weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
        lr: { min: 0, max: 1 },
      },
    });
    let state = initialSamplerState(spec);
    for (let round = 0; round < 4; round++) {
      const p = proposeTrials(spec, 'sweep-b', state, 8);
      state = observeTrials(
        p.state,
        p.trials.map((t) => ({
          index: t.index,
          status: 'completed' as const,
          phase: null,
          metric: (Math.log10(Number(t.params.weight_decay)) + 1) ** 2 + Number(t.params.lr),
        })),
      );
    }
    const { logger } = capturingLogger();
    const store = {} as ResultsStore;
    // Every millisecond: any turn of the event loop during the proposal shows as a heartbeat.
    const activities = createControlActivities({ store, logger }, {}, 1);
    const activity = fakeActivity('suggestTrials');
    const input = { sweepId: 'sweep-b', spec, state, n: 8 };
    const result = await activity.run(() => activities.suggestTrials(input));
    // One as it starts; a synchronous proposal would have blocked every later one.
    expect(activity.heartbeats.length).toBeGreaterThan(1);
    const direct = proposeTrials(spec, 'sweep-b', state, 8);
    expect(result.trials).toEqual(direct.trials);
    expect(result.state).toEqual(leaveInStore(direct.state));
  });
});

describe('control activities: a suggestion whose finished trials are in the store', () => {
  const home = mkdtempSync(join(tmpdir(), 'grokmap-suggest-'));
  const store = openSqliteStore({ path: join(home, 'grokmap.db') });
  const elsewhere = openSqliteStore({ path: join(home, 'other.db') });
  const { logger } = capturingLogger();
  const spec = sweepSpecSchema.parse({
    name: 'stored-adaptive',
    trainer: 'synthetic',
    method: 'adaptive',
    seed: 2,
    budget: { trials: 16, parallel: 4 },
    parameters: {
      weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
      data_fraction: { min: 0.1, max: 0.9 },
    },
    fixed: { max_steps: 1000 },
  });

  beforeAll(async () => {
    await store.migrate();
    await elsewhere.migrate();
  });
  afterAll(async () => {
    await store.close();
    await elsewhere.close();
  });

  /** A trial's result as its trainer records it: grokking with much data, memorization without. */
  async function finish(trial: PlannedTrial): Promise<SamplerResult> {
    const groks = Number(trial.params.data_fraction) > 0.5;
    const val = groks ? 800 : null;
    await store.recordTrialResult({
      sweepId: 'sweep-s',
      trialId: trial.trialId,
      index: trial.index,
      params: trial.params,
      attempts: 1,
      outcome: {
        status: 'completed',
        steps: 1000,
        maxSteps: 1000,
        firstStepAtThreshold: { train: 100, val },
        final: { trainAcc: 1, valAcc: groks ? 1 : 0.2, trainLoss: 0.01 },
        curves: [],
      },
      phase: groks ? 'grokking' : 'memorization',
      tTrain: 100,
      tVal: val,
      ratio: val === null ? null : val / 100,
      valAtTrain: 0.1,
      semiGrokking: false,
    });
    return {
      index: trial.index,
      status: 'completed',
      phase: groks ? 'grokking' : 'memorization',
      metric: null,
    };
  }

  it('reads them back, carries only the window, and suggests what the whole state would', async () => {
    const activities = createControlActivities({ store, logger }, {});
    let carried = initialSamplerState(spec);
    let whole = carried;
    for (let round = 0; round < 4; round++) {
      const suggested = await activities.suggestTrials({ sweepId: 'sweep-s', spec, state: carried, n: 4 });
      const direct = proposeTrials(spec, 'sweep-s', whole, 4);
      expect(suggested.trials).toEqual(direct.trials);
      expect(suggested.trials).toHaveLength(4);
      // Only this round's trials travel: the earlier ones are in the store.
      expect(suggested.state.observations).toEqual([]);
      expect(suggested.state.stored?.below ?? 0).toBe(4 * round);
      const results = await Promise.all(suggested.trials.map(finish));
      carried = observeTrials(suggested.state, results);
      whole = observeTrials(direct.state, results);
    }
    expect(whole.observations).toHaveLength(16);
  });

  it('fails, saying so, when the store does not hold them', async () => {
    const activities = createControlActivities({ store: elsewhere, logger }, {});
    let state = initialSamplerState(spec);
    const first = await createControlActivities({ store, logger }, {}).suggestTrials({
      sweepId: 'sweep-s',
      spec,
      state,
      n: 4,
    });
    state = observeTrials(
      first.state,
      first.trials.map((t) => ({
        index: t.index,
        status: 'completed' as const,
        phase: 'grokking' as const,
        metric: null,
      })),
    );
    const second = await activities.suggestTrials({ sweepId: 'sweep-s', spec, state, n: 4 });
    expect(second.state.stored?.below).toBe(4);
    await expect(
      activities.suggestTrials({ sweepId: 'sweep-s', spec, state: observeTrials(second.state, []), n: 4 }),
    ).rejects.toThrow(
      /sweep sweep-s: the results store holds 0 of the 4 finished trials .* 4 are missing, the first at indices 0, 1, 2, 3\. Is this control worker using the results store the sweep ran on \(GROKMAP_DATABASE_URL\)\?/,
    );
  });
});
