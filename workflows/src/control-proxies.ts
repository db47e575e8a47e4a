import { proxyActivities } from '@temporalio/workflow';
import { CONTROL_TASK_QUEUE, type ControlActivities } from './activity-types.js';

/**
 * Control activities heartbeat every few seconds while they run (the
 * wrapper in workers/src/activities/heartbeat.ts), so the heartbeat timeout
 * is what bounds the stall when a control worker dies mid-call (SIGKILL,
 * OOM, a crash): Temporal retries a lost attempt only once it times out,
 * and 30 s without a heartbeat says so, where start-to-close alone meant
 * waiting out two minutes, or fifteen during the report. Start-to-close
 * stays the outer bound on a live but stuck call: two minutes leaves room
 * for a loaded machine; the report and suggestions, which can take long on
 * a big sweep, get their own longer budgets.
 * Heartbeats come from a timer, so none go out while the event loop is
 * blocked: a synchronous section must stay well under 30 s. Store writes
 * and the report's figures take a few seconds at most. Proposals give the
 * loop back after every point (proposeTrialsYielding); on a 2-CPU machine
 * a bayes proposal's longest section was 2.1–2.6 s and the whole 13–18 s,
 * for 64 points with 64 pending on sweeps of 1,000–4,000 trials (the GP
 * keeps at most 1,000 of them); an adaptive one's longest was 3.0 s, for
 * 1,000 points after 2,000 trials (47 s in all). After 100,000 trials, 64
 * points: bayes 22.5 s (longest 2.2 s), adaptive 19.4 s (longest 8.2 s), and
 * the read-back of the finished trials from SQLite 3.3 s (docs/scale.md).
 */
const HEARTBEAT_TIMEOUT = '30s';
const QUICK_TIMEOUT = '2m';
const REPORT_TIMEOUT = '15m';
/** Time grows with the batch: a sweep with `parallel: 512` can ask for 512 points at once. */
const SUGGEST_TIMEOUT = '15m';
const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 50 };
/**
 * Recording that a sweep failed for good: a few attempts only, since the
 * store may be what failed, and the workflow should not wait half an hour
 * more to say so.
 */
const LAST_WORDS_ATTEMPTS = 5;

export function quickControlActivities<T = ControlActivities>() {
  return controlProxies<T>(QUICK_TIMEOUT);
}

export function reportControlActivities() {
  return controlProxies<Pick<ControlActivities, 'finishSweep'>>(REPORT_TIMEOUT);
}

export function suggestionControlActivities() {
  return controlProxies<Pick<ControlActivities, 'suggestTrials'>>(SUGGEST_TIMEOUT);
}

/** For recording a sweep's failure on the way out (LAST_WORDS_ATTEMPTS). */
export function lastWordsControlActivities() {
  return controlProxies<Pick<ControlActivities, 'finishSweep' | 'recordTrialFailure'>>(QUICK_TIMEOUT, {
    ...RETRY,
    maximumAttempts: LAST_WORDS_ATTEMPTS,
  });
}

function controlProxies<T>(startToCloseTimeout: string, retry = RETRY) {
  return proxyActivities<T>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry,
  });
}
