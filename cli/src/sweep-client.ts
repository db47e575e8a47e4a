import type { AnalysedTrial } from '@grokmap/analysis';
import { type ResultsStore, toAnalysedTrial, trialStepsFromHeartbeat } from '@grokmap/workers';
import {
  CONTROL_TASK_QUEUE,
  closedWorkflowReason,
  parameterNames,
  progressQuery,
  type SweepInput,
  type SweepProgress,
  type SweepResult,
  type SweepSpec,
} from '@grokmap/workflows';
import {
  CancelledFailure,
  type Client,
  defaultPayloadConverter,
  type Payload,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { CliError } from './context.js';
import { unreadableTrialWarning } from './unreadable.js';

/** Start a sweep's workflow under its deterministic id: attaches to a running copy, refuses a finished one. */
export async function startSweep(
  client: Client,
  spec: SweepSpec,
  sweepId: string,
  options: SweepInput['options'] = {},
): Promise<{ handle: WorkflowHandle; attached: boolean }> {
  const existing = await client.workflow
    .getHandle(sweepId)
    .describe()
    .catch(() => undefined);
  if (existing?.status.name === 'RUNNING')
    return { handle: client.workflow.getHandle(sweepId), attached: true };
  try {
    // The id policies make the check above race-free: a concurrent start attaches, a finished sweep is refused.
    const handle = await client.workflow.start('sweepWorkflow', {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: sweepId,
      args: [{ sweepId, spec, options } satisfies SweepInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      memo: { name: spec.name, trainer: spec.trainer, method: spec.method },
    });
    return { handle, attached: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new CliError(
        `sweep ${sweepId} has already run on this server (${existing?.status.name.toLowerCase() ?? 'closed'}); change the spec's name or pass --id to run it again`,
      );
    }
    throw err;
  }
}

/**
 * The sweep's progress query, with each running trial's step and attempt
 * taken from the heartbeat details the server holds for its activity
 * (trainer workers send no progress signals: those wrote history events,
 * thousands an hour per GPU on long trials, enough to push a sweep of long
 * trials past Temporal's history limit).
 */
export async function queryProgress(handle: WorkflowHandle): Promise<SweepProgress | undefined> {
  try {
    const [progress, description] = await Promise.all([
      handle.query(progressQuery),
      handle.describe().catch(() => undefined),
    ]);
    return withHeartbeatSteps(progress, description?.raw.pendingActivities ?? []);
  } catch {
    return undefined;
  }
}

/** What the server reports of a pending activity that matters here. */
export interface PendingActivity {
  attempt?: number | null;
  heartbeatDetails?: { payloads?: Payload[] | null } | null;
}

/** The progress with each running trial's step and attempt from its activity's latest heartbeat, where there is one. */
export function withHeartbeatSteps(
  progress: SweepProgress,
  pending: readonly PendingActivity[],
): SweepProgress {
  const steps = new Map<string, { step: number; attempt: number }>();
  for (const activity of pending) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    let details: unknown;
    try {
      details = defaultPayloadConverter.fromPayload(payload);
    } catch {
      continue; // not ours to read
    }
    for (const { trialId, step } of trialStepsFromHeartbeat(details))
      steps.set(trialId, { step, attempt: activity.attempt ?? 1 });
  }
  if (steps.size === 0) return progress;
  return { ...progress, running: progress.running.map((r) => ({ ...r, ...steps.get(r.trialId) })) };
}

/** How a sweep ended: its result, or, when its workflow failed or was cancelled, that and why. */
export type SweepEnd = Pick<SweepResult, 'sweepId' | 'status' | 'verdict' | 'reportDir'> &
  Partial<Pick<SweepResult, 'state'>>;

/**
 * Wait for the sweep's workflow to close. A workflow that failed for good
 * (it recorded why: finish-sweep.ts) or was cancelled ends the wait with
 * that status and reason instead of an error, so `sweep start --wait` says
 * how the sweep ended as it does for a finished one.
 */
export async function waitForSweep(handle: WorkflowHandle): Promise<SweepEnd> {
  try {
    return (await handle.result()) as SweepResult;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cancelled = err.cause instanceof CancelledFailure;
    const verdict = cancelled ? 'cancelled by request' : (closedWorkflowReason(err) ?? err.message);
    return { sweepId: handle.workflowId, status: cancelled ? 'cancelled' : 'failed', verdict };
  }
}

/**
 * The sweep's readable trials, for status, watch and the demo. A row the
 * store cannot read is left out and named through `warn` (stderr by
 * default), so one corrupt record never hides the rest of a sweep.
 */
export async function storedTrials(
  store: ResultsStore,
  sweepId: string,
  warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
): Promise<AnalysedTrial[]> {
  const scan = await store.scanTrials(sweepId);
  for (const u of scan.unreadable) warn(unreadableTrialWarning(u));
  return scan.trials.map(toAnalysedTrial);
}

export function sweptNames(spec: unknown): string[] {
  return parameterNames(spec as Pick<SweepSpec, 'parameters'>);
}
