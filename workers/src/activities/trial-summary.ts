import type { TrialSummary } from '@grokmap/workflows';
import { metricValue } from '../metric.js';
import type { TrialRecord } from '../store/types.js';

/**
 * The summary the workflow gets for a trial that already has a final record
 * in the store (a retried activity whose first attempt recorded it). Its
 * metric comes from the stored outcome, so a bayes sweep observes the same
 * value as when the first attempt had reported it.
 */
export function summaryFromRecord(record: TrialRecord, metricName?: string): TrialSummary {
  return {
    trialId: record.trialId,
    index: record.index,
    status: record.status === 'running' ? 'error' : record.status,
    phase: record.phase ?? null,
    tTrain: record.tTrain ?? null,
    tVal: record.tVal ?? null,
    metric: record.outcome ? metricValue(metricName, record.outcome) : null,
    attempts: record.attempts,
    ...(record.error ? { reason: record.error } : {}),
    recorded: false,
  };
}
