import type { AnalysedTrial } from '@grokmap/analysis';
import { type ResultsStore, toAnalysedTrial } from '@grokmap/workers';
import {
  CONTROL_TASK_QUEUE,
  parameterNames,
  progressQuery,
  type SweepInput,
  type SweepProgress,
  type SweepResult,
  type SweepSpec,
} from '@grokmap/workflows';
import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
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

export async function queryProgress(handle: WorkflowHandle): Promise<SweepProgress | undefined> {
  try {
    return await handle.query(progressQuery);
  } catch {
    return undefined;
  }
}

export async function waitForSweep(handle: WorkflowHandle): Promise<SweepResult> {
  return (await handle.result()) as SweepResult;
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
