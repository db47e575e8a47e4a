import { proxyActivities } from '@temporalio/workflow';
import { CONTROL_TASK_QUEUE, type ControlActivities } from './activity-types.js';

/**
 * Control activities are quick (store writes, one batch of suggestions), so
 * their start-to-close timeout is what bounds the stall when a control
 * worker dies mid-call: Temporal only retries a lost attempt once it times
 * out. Two minutes leaves room for a loaded machine; the report, which can
 * take long on a big sweep, gets its own longer budget.
 */
const QUICK_TIMEOUT = '2m';
const REPORT_TIMEOUT = '15m';
const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 50 };

export function quickControlActivities<T = ControlActivities>() {
  return proxyActivities<T>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: QUICK_TIMEOUT,
    retry: RETRY,
  });
}

export function reportControlActivities() {
  return proxyActivities<Pick<ControlActivities, 'finishSweep'>>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: REPORT_TIMEOUT,
    retry: RETRY,
  });
}
