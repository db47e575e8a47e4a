import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticGroundTruth } from '@grokmap/plugin-synthetic';
import { DEFAULT_THRESHOLDS, type RegressionVerdict } from '@grokmap/workflows';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { ResultsStore } from '../store/types.js';
import { createRegressionActivities, failedSweepReason } from './regression-activities.js';

const logger = pino({ level: 'silent' });
const spec = {
  name: 'nightly',
  trainer: 'synthetic',
  method: 'grid',
  parameters: {
    weight_decay: { distribution: 'categorical', values: [0.1, 0.3, 1] },
    data_fraction: { distribution: 'categorical', values: [0.2, 0.45, 0.7] },
    seed: { distribution: 'categorical', values: [0, 1] },
  },
  phase: { threshold: 0.99, delay_steps: 1000 },
};

/**
 * A finished sweep whose trials carry the synthetic trainer's noise-free phases, except those
 * `crashed` picks: they failed (error, or timed out, in turn).
 */
async function storeSweep(
  store: ResultsStore,
  sweepId: string,
  shift: number,
  crashed: (index: number) => boolean = () => false,
): Promise<void> {
  const now = new Date().toISOString();
  await store.saveSweep({
    sweepId,
    name: 'nightly',
    trainer: 'synthetic',
    method: 'grid',
    spec,
    status: 'completed',
    plannedTrials: 18,
    createdAt: now,
    updatedAt: now,
  });
  let index = 0;
  for (const weight_decay of [0.1, 0.3, 1]) {
    for (const data_fraction of [0.2, 0.45, 0.7]) {
      for (const seed of [0, 1]) {
        const params = { weight_decay, data_fraction, seed, model_size: 64, shift };
        const truth = syntheticGroundTruth(params);
        const i = index++;
        if (crashed(i)) {
          await store.recordTrialFailure({
            sweepId,
            trialId: `${sweepId}.t${i}`,
            index: i,
            params,
            attempts: 3,
            status: i % 2 === 0 ? 'error' : 'timed_out',
            error: `TrialProcessCrashed: exit 1 (trial ${i})`,
          });
          continue;
        }
        await store.recordTrialResult({
          sweepId,
          trialId: `${sweepId}.t${i}`,
          index: i,
          params,
          attempts: 1,
          outcome: {
            status: 'completed',
            steps: 20000,
            maxSteps: 20000,
            firstStepAtThreshold: { train: truth.tTrain, val: truth.tVal },
            final: { trainAcc: 1, valAcc: 1 },
            curves: [],
          },
          phase: truth.phase,
          tTrain: truth.tTrain,
          tVal: truth.tVal,
          ratio: truth.tTrain && truth.tVal ? truth.tVal / truth.tTrain : null,
          valAtTrain: null,
          semiGrokking: false,
        });
      }
    }
  }
}

describe('regression activities', () => {
  const home = mkdtempSync(join(tmpdir(), 'grokmap-regression-'));
  const store = openSqliteStore({ path: join(home, 'grokmap.db') });
  const activities = createRegressionActivities({ store, logger, reportsDir: join(home, 'reports') });
  const received: { status: number; body: Record<string, unknown>; key: unknown }[] = [];
  let answer = 200;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    await store.migrate();
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => {
        text += d.toString();
      });
      req.on('end', () => {
        received.push({ status: answer, body: JSON.parse(text), key: req.headers['idempotency-key'] });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    server.close();
    await store.close();
  });

  const compare = (sweepId: string, baseline = 'last-pass') =>
    activities.compareToBaseline({
      sweepId,
      specName: 'nightly',
      scheduleName: 'nightly',
      baseline,
      thresholds: DEFAULT_THRESHOLDS,
    });

  let regressed: RegressionVerdict;

  it('goes baseline → pass → regressed against the last passing sweep, with a page for each', async () => {
    await storeSweep(store, 's1', 0);
    const first = await compare('s1');
    expect(first).toMatchObject({ verdict: 'baseline', baselineSweepId: null });
    await activities.recordRegression(first);

    await storeSweep(store, 's2', 0);
    const second = await compare('s2');
    expect(second).toMatchObject({
      verdict: 'pass',
      baselineSweepId: 's1',
      comparedCells: 9,
      changedShare: 0,
    });
    await activities.recordRegression(second);

    await storeSweep(store, 's3', 0.3);
    regressed = await compare('s3');
    expect(regressed.verdict).toBe('regressed');
    expect(regressed.baselineSweepId).toBe('s2');
    expect(regressed.changedCells.length).toBeGreaterThanOrEqual(2);
    await activities.recordRegression(regressed);
    // A regressed run is never a baseline: the next run is still compared with s2.
    expect(await store.lastPassingSweep({ scheduleName: 'nightly' })).toBe('s2');

    expect(regressed.reportFile).toBe(join(home, 'reports', 's3', 'regression.html'));
    expect(existsSync(regressed.reportFile!)).toBe(true);
    expect(readFileSync(regressed.reportFile!, 'utf8')).toContain('baseline: s2');
    expect((await store.listRegressions()).map((r) => r.verdict)).toEqual(['regressed', 'pass', 'baseline']);
  });

  it('is inconclusive against a baseline sweep id the store does not know', async () => {
    const v = await compare('s3', 'no-such-sweep');
    expect(v.verdict).toBe('inconclusive');
    expect(v.reasons[0]).toMatch(/no-such-sweep/);
  });

  it('a failed sweep gets the verdict failed, saying how it ended; a cancelled one is inconclusive', async () => {
    await storeSweep(store, 's4', 0);
    await store.setSweepStatus('s4', 'failed', { verdict: 'failure budget spent: 3 failed trials' });
    const failed = await compare('s4');
    expect([failed.verdict, failed.reasons[0]]).toEqual([
      'failed',
      'the sweep ended failed (failure budget spent: 3 failed trials)',
    ]);
    await activities.recordRegression(failed);
    expect((await store.getRegression('s4'))?.verdict).toBe('failed');
    // Never a baseline: the next run is still compared with s2.
    expect(await store.lastPassingSweep({ scheduleName: 'nightly' })).toBe('s2');

    await storeSweep(store, 's5', 0);
    await store.setSweepStatus('s5', 'cancelled');
    expect((await compare('s5')).verdict).toBe('inconclusive');
  });

  it('a completed sweep whose every trial failed is failed too (no failure budget stopped it); one classified trial is enough not to be', async () => {
    await storeSweep(store, 's6', 0, () => true);
    const six = await compare('s6');
    expect([six.verdict, six.reasons[0]]).toEqual([
      'failed',
      'no trial of the sweep was classified: 18 of its 18 trials failed (9 error, 9 timed_out); ' +
        'the first: TrialProcessCrashed: exit 1 (trial 0)',
    ]);
    await storeSweep(store, 's7', 0, (i) => i > 0);
    expect(failedSweepReason((await store.getSweep('s7'))!, await store.listTrials('s7'))).toBeUndefined();
  });

  it('posts JSON or Slack payloads; retries server errors, gives up on a rejecting webhook', async () => {
    received.length = 0;
    await activities.notifyRegression({ target: { url, format: 'json' }, verdict: regressed });
    expect(received[0]!.body).toMatchObject({ verdict: 'regressed', sweepId: 's3', baselineSweepId: 's2' });
    expect(received[0]!.key).toBe('s3');

    await activities.notifyRegression({ target: { url, format: 'slack' }, verdict: regressed });
    const slack = received[1]!.body as { text: string; blocks: unknown[] };
    expect(slack.text).toMatch(/s3 regressed against baseline s2/);
    expect(slack.blocks.length).toBeGreaterThan(0);

    answer = 503;
    const retryable = await activities
      .notifyRegression({ target: { url, format: 'json' }, verdict: regressed })
      .catch((e: unknown) => e);
    expect(retryable).toBeInstanceOf(Error);
    expect(retryable).not.toBeInstanceOf(ApplicationFailure);

    answer = 404;
    const rejected = await activities
      .notifyRegression({ target: { url, format: 'json' }, verdict: regressed })
      .catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(ApplicationFailure);
    expect((rejected as ApplicationFailure).nonRetryable).toBe(true);
    answer = 200;
  });
});
