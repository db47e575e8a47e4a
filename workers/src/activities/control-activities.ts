import { setTimeout as sleep } from 'node:timers/promises';
import { leaveInStore, proposeTrialsYielding } from '@grokmap/analysis/samplers';
import type {
  FinishSweepInput,
  RecordTrialFailureInput,
  RecordTrialFailureResult,
  RegisterSweepInput,
  SuggestTrialsInput,
  SuggestTrialsResult,
} from '@grokmap/workflows';
import type { Logger } from 'pino';
import { FINAL_TRIAL_STATUSES, type ResultsStore } from '../store/types.js';
import { HEARTBEAT_INTERVAL_MS, withHeartbeats } from './heartbeat.js';
import { restoreSamplerState } from './stored-trials.js';
import { summaryFromRecord } from './trial-summary.js';

export interface ControlActivityDeps {
  store: ResultsStore;
  logger: Logger;
  /** Writes the sweep's report and returns its folder; absent where reports are off. */
  writeReport?: (sweepId: string) => Promise<string>;
}

/**
 * TEST-ONLY fault hook; never set it outside the fault-injection suite. `GROKMAP_TEST_PAUSE_IN`
 * names control activities (comma-separated: registerSweep, suggestTrials, recordTrialFailure,
 * finishSweep) that, once their work is done (the proposal computed, the store write committed)
 * and before they return, log `test-only pause in <activity>` and sleep `GROKMAP_TEST_PAUSE_MS`
 * (default 5000), so a test can SIGKILL the worker at the point where the work is done but
 * Temporal has not heard of it. Unset: nothing happens.
 */
export const TEST_PAUSE_ENV = 'GROKMAP_TEST_PAUSE_IN';
export const TEST_PAUSE_LOG = 'test-only pause in';

function testPause(logger: Logger, env: NodeJS.ProcessEnv = process.env) {
  const names = new Set(
    (env[TEST_PAUSE_ENV] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const ms = Number(env.GROKMAP_TEST_PAUSE_MS ?? 5_000);
  return async (activity: string, sweepId: string): Promise<void> => {
    if (!names.has(activity)) return;
    logger.warn({ activity, sweepId, ms }, `${TEST_PAUSE_LOG} ${activity}`);
    await sleep(ms);
  };
}

/**
 * Activities on the control queue: bookkeeping in the results store and reports. All idempotent.
 * Each heartbeats every `heartbeatIntervalMs` while it runs (see ./heartbeat.ts), so a control
 * worker that dies mid-call is noticed within the proxies' heartbeat timeout.
 */
export function createControlActivities(
  deps: ControlActivityDeps,
  env: NodeJS.ProcessEnv = process.env,
  heartbeatIntervalMs = HEARTBEAT_INTERVAL_MS,
) {
  const pause = testPause(deps.logger, env);
  return withHeartbeats(controlActivities(deps, pause), heartbeatIntervalMs);
}

function controlActivities(deps: ControlActivityDeps, pause: ReturnType<typeof testPause>) {
  return {
    async registerSweep(input: RegisterSweepInput): Promise<void> {
      const now = new Date().toISOString();
      const existing = await deps.store.getSweep(input.sweepId);
      await deps.store.saveSweep({
        sweepId: input.sweepId,
        name: input.spec.name,
        trainer: input.spec.trainer,
        method: input.spec.method,
        spec: input.spec,
        status: 'running',
        plannedTrials: input.plannedTrials,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
      await pause('registerSweep', input.sweepId);
    },

    async suggestTrials(input: SuggestTrialsInput): Promise<SuggestTrialsResult> {
      const whole = await restoreSamplerState(deps.store, input.spec, input.sweepId, input.state);
      const proposal = await proposeTrialsYielding(input.spec, input.sweepId, whole, input.n);
      await pause('suggestTrials', input.sweepId);
      // What the store holds stays there: the workflow carries a window of the sweep, not all of it.
      return { ...proposal, state: leaveInStore(proposal.state) };
    },

    async recordTrialFailure(input: RecordTrialFailureInput): Promise<RecordTrialFailureResult> {
      const { trial } = input;
      const { recorded } = await deps.store.recordTrialFailure({
        sweepId: input.sweepId,
        trialId: trial.trialId,
        index: trial.index,
        params: trial.params,
        attempts: input.attempts,
        status: input.status,
        error: input.reason,
      });
      await pause('recordTrialFailure', input.sweepId);
      if (recorded) return { recorded };
      // Already final (a pack's trial that finished before its pack failed): say how it ended.
      const existing = await deps.store.getTrial(trial.trialId);
      if (!existing || !FINAL_TRIAL_STATUSES.includes(existing.status)) return { recorded };
      const { status, phase, metric } = summaryFromRecord(existing, input.metricName);
      return { recorded, stored: { status, phase, metric } };
    },

    async finishSweep(input: FinishSweepInput): Promise<{ reportDir?: string }> {
      const verdict = input.verdict ? { verdict: input.verdict } : {};
      // The status first: the report reads the sweep from the store and must show how it ended.
      await deps.store.setSweepStatus(input.sweepId, input.status, verdict);
      let reportDir: string | undefined;
      if (input.writeReport && deps.writeReport) {
        try {
          reportDir = await deps.writeReport(input.sweepId);
        } catch (err) {
          // A report that cannot be drawn must not lose the sweep's results; say so and carry on.
          deps.logger.error({ err, sweepId: input.sweepId }, 'report failed');
        }
      }
      if (reportDir) await deps.store.setSweepStatus(input.sweepId, input.status, { ...verdict, reportDir });
      await pause('finishSweep', input.sweepId);
      return reportDir ? { reportDir } : {};
    },
  };
}
