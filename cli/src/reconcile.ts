import type { ResultsStore, SweepRecord, SweepStatus } from '@grokmap/workers';
import { closedWorkflowReason } from '@grokmap/workflows';
import type { Client } from '@temporalio/client';

/**
 * A sweep records its own end, even when it fails for good (finish-sweep.ts).
 * It cannot when the server ends its workflow without running its code
 * (`temporal workflow terminate`, a run timeout) or when the store was what
 * failed: then the store says `running` for a sweep that is over. `sweep
 * status` and `sweep list` ask the server about such sweeps and record how
 * they ended, so a list of running sweeps shows only those still running.
 */

/** Workflow statuses (the client's names) that end a sweep it did not record, and how. */
const ENDED_WITHOUT_RECORD: Record<string, { status: Exclude<SweepStatus, 'running'>; what: string }> = {
  TERMINATED: { status: 'failed', what: 'terminated' },
  TIMED_OUT: { status: 'failed', what: 'timed out' },
  FAILED: { status: 'failed', what: 'failed' },
  CANCELLED: { status: 'cancelled', what: 'cancelled' },
};

export interface RecordedEnd {
  status: Exclude<SweepStatus, 'running'>;
  verdict: string;
}

/**
 * How a sweep the store says is running ended, from its workflow's status on
 * the server and the failure it closed with (if any); undefined while it runs,
 * and for a completed workflow (it records its end before completing, so that
 * is a store that changed under it: not for a status check to guess at).
 */
export function endFromServer(workflowStatus: string, failure?: unknown): RecordedEnd | undefined {
  const ended = ENDED_WITHOUT_RECORD[workflowStatus];
  if (!ended) return undefined;
  const why = closedWorkflowReason(failure);
  return {
    status: ended.status,
    verdict: `workflow ${ended.what} on the Temporal server before the sweep recorded its end${why ? `: ${why}` : ''}`,
  };
}

/**
 * Records the end of each sweep the store says is running but the server
 * has closed: the sweep with `endFromServer`'s status and verdict, and its
 * trials still marked running as cancelled (their activities stopped with
 * the workflow and recorded nothing). Returns the records as they now stand.
 * A sweep the server does not know (another server, or its history expired)
 * is left as it is.
 */
export async function reconcileRunningSweeps(
  store: ResultsStore,
  client: Client,
  records: readonly SweepRecord[],
): Promise<SweepRecord[]> {
  return Promise.all(
    records.map(async (record) => {
      if (record.status !== 'running') return record;
      const handle = client.workflow.getHandle(record.sweepId);
      const description = await handle.describe().catch(() => undefined);
      if (!description) return record;
      const failure = description.status.name === 'RUNNING' ? undefined : await closingFailure(handle);
      const end = endFromServer(description.status.name, failure);
      if (!end) return record;
      const { trials } = await store.scanTrials(record.sweepId);
      for (const t of trials.filter((t) => t.status === 'running')) {
        await store.recordTrialFailure({
          sweepId: t.sweepId,
          trialId: t.trialId,
          index: t.index,
          params: t.params,
          attempts: t.attempts,
          status: 'cancelled',
          error: `the sweep ended: ${end.verdict}`,
        });
      }
      await store.setSweepStatus(record.sweepId, end.status, { verdict: end.verdict });
      return (await store.getSweep(record.sweepId)) ?? record;
    }),
  );
}

/** The failure a closed workflow ended with: result() of a closed workflow rejects with it at once. */
async function closingFailure(handle: ReturnType<Client['workflow']['getHandle']>): Promise<unknown> {
  try {
    await handle.result();
    return undefined;
  } catch (err) {
    return err;
  }
}
