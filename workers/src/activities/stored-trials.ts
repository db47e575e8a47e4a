import type { SamplerState } from '@grokmap/analysis/sampler-types';
import {
  pointFromParams,
  restoreFromStore,
  type StoredTrial,
  StoredTrialsMismatch,
} from '@grokmap/analysis/samplers';
import type { SweepSpec } from '@grokmap/workflows';
import { ApplicationFailure } from '@temporalio/activity';
import { FINAL_TRIAL_STATUSES, type ResultsStore } from '../store/types.js';
import { summaryFromRecord } from './trial-summary.js';

/**
 * A suggestion's sampler state made whole: the finished trials it left in
 * the results store (analysis/src/samplers/stored.ts), read back as the
 * workflow observed them (the same summary a retried trial gets).
 */
export async function restoreSamplerState(
  store: ResultsStore,
  spec: SweepSpec,
  sweepId: string,
  state: SamplerState,
): Promise<SamplerState> {
  if (!state.stored) return state;
  const below = state.stored.below;
  const trials: StoredTrial[] = [];
  for (const record of await store.listTrials(sweepId)) {
    if (record.index >= below || !FINAL_TRIAL_STATUSES.includes(record.status)) continue;
    const { index, status, phase, metric } = summaryFromRecord(record, state.metricName);
    trials.push({ index, status, phase, metric, point: pointFromParams(spec, record.params) });
  }
  try {
    return restoreFromStore(state, trials);
  } catch (err) {
    if (!(err instanceof StoredTrialsMismatch)) throw err;
    // Retryable: the likeliest cause is a control worker pointed at another database, which a restart mends.
    throw ApplicationFailure.retryable(
      `sweep ${sweepId}: ${err.message}. Is this control worker using the results store the sweep ran on (GROKMAP_DATABASE_URL)?`,
      'StoredTrialsMismatch',
    );
  }
}
