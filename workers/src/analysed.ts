import type { AnalysedTrial } from '@grokmap/analysis';
import type { TrialRecord } from './store/types.js';

/** A stored trial as the analysis package sees it. */
export function toAnalysedTrial(record: TrialRecord): AnalysedTrial {
  return {
    trialId: record.trialId,
    params: record.params,
    status: record.status,
    classification: record.phase
      ? {
          phase: record.phase,
          tTrain: record.tTrain ?? null,
          tVal: record.tVal ?? null,
          ratio: record.ratio ?? null,
          valAtTrain: record.valAtTrain ?? null,
          semiGrokking: record.semiGrokking ?? false,
        }
      : null,
  };
}
