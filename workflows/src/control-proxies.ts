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
 * for a loaded machine; the report, which can take long on a big sweep,
 * gets its own longer budget.
 * Heartbeats come from a timer, so none go out while the event loop is
 * blocked: a synchronous section must stay well under 30 s. Store writes,
 * an adaptive proposal and the report's figures take a few seconds at
 * most; a bayes proposal fits its hyperparameters on at most 150
 * observations and extends its GP's factor one row at a time (bayes.ts):
 * about 2 s at 200 observations, 6 s at 600 and 11 s at 1,000 on a 2-CPU
 * machine.
 */
const HEARTBEAT_TIMEOUT = '30s';
const QUICK_TIMEOUT = '2m';
const REPORT_TIMEOUT = '15m';
const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 50 };

export function quickControlActivities<T = ControlActivities>() {
  return proxyActivities<T>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: QUICK_TIMEOUT,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: RETRY,
  });
}

export function reportControlActivities() {
  return proxyActivities<Pick<ControlActivities, 'finishSweep'>>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: REPORT_TIMEOUT,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: RETRY,
  });
}
