import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { CONTROL_TASK_QUEUE } from './activity-types.js';
import { quickControlActivities } from './control-proxies.js';
import {
  type BaselineRef,
  NOTIFYING_VERDICTS,
  type NotifyTarget,
  type RegressionActivities,
  type RegressionVerdict,
  regressionSweepId,
  thresholdsFromSpec,
} from './regression-types.js';
import type { SweepSpec } from './spec.js';
import { sweepFailureVerdict } from './sweep-failure.js';
import { type SweepInput, sweepWorkflow } from './sweep-workflow.js';

// ---- Interface: input and result ----

export interface RegressionInput {
  /** The schedule that started this run; `last-pass` baselines are looked up within it. */
  scheduleName?: string;
  spec: SweepSpec;
  /** A sweep id, `last-pass`, or `none`; default: the spec's `regression.baseline`, else `last-pass`. */
  baseline?: BaselineRef;
  /** Where to POST a notification when the run regressed or its sweep failed. */
  notify?: NotifyTarget;
  options?: SweepInput['options'];
}

export type RegressionResult = RegressionVerdict;

/**
 * One regression check: runs the spec's sweep as a child workflow (its id
 * derived from this workflow's id, so every scheduled run gets its own
 * sweep), compares the finished sweep with its baseline in a control
 * activity, stores the verdict, and — only when the run regressed or its
 * sweep failed — sends one notification (retried until the webhook accepts
 * it). The first run without a baseline passes with the verdict `baseline`
 * and becomes the baseline of later `last-pass` runs. A sweep that failed
 * (failure budget spent, or failed for good), or whose every trial failed,
 * gets the verdict `failed`, saying how it ended. Returns the verdict.
 */
export async function regressionWorkflow(input: RegressionInput): Promise<RegressionResult> {
  const control =
    quickControlActivities<Pick<RegressionActivities, 'compareToBaseline' | 'recordRegression'>>();
  const notifier = proxyActivities<Pick<RegressionActivities, 'notifyRegression'>>({
    taskQueue: CONTROL_TASK_QUEUE,
    startToCloseTimeout: '1m',
    retry: {
      initialInterval: '2s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      maximumAttempts: 8,
      nonRetryableErrorTypes: ['WebhookRejected'],
    },
  });

  const sweepId = regressionSweepId(workflowInfo().workflowId);
  await executeChild(sweepWorkflow, {
    workflowId: sweepId,
    taskQueue: CONTROL_TASK_QUEUE,
    args: [{ sweepId, spec: input.spec, options: input.options ?? {} }],
  }).catch((err: unknown) => {
    // A sweep that failed for good has recorded why (finish-sweep.ts): the check still gives its
    // verdict (failed, with that reason) rather than failing with no verdict stored.
    if (sweepFailureVerdict(err) === undefined) throw err;
  });

  const verdict = await control.compareToBaseline({
    sweepId,
    specName: input.spec.name,
    ...(input.scheduleName ? { scheduleName: input.scheduleName } : {}),
    baseline: input.baseline ?? input.spec.regression?.baseline ?? 'last-pass',
    thresholds: thresholdsFromSpec(input.spec.regression),
  });
  await control.recordRegression(verdict);
  if (NOTIFYING_VERDICTS.includes(verdict.verdict) && input.notify) {
    await notifier.notifyRegression({ target: input.notify, verdict });
  }
  return verdict;
}
