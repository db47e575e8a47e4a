import type { TrialSummary } from '@grokmap/workflows';
import type { TrialRecord } from '../store/types.js';

/** The summary the workflow gets for a trial that already has a final record in the store. */
export function summaryFromRecord(record: TrialRecord): TrialSummary {
  return {
    trialId: record.trialId,
    index: record.index,
    status: record.status === 'running' ? 'error' : record.status,
    phase: record.phase ?? null,
    tTrain: record.tTrain ?? null,
    tVal: record.tVal ?? null,
    metric: null,
    attempts: record.attempts,
    ...(record.error ? { reason: record.error } : {}),
    recorded: false,
  };
}
