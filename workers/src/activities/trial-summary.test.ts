import { describe, expect, it } from 'vitest';
import type { TrialRecord } from '../store/types.js';
import { summaryFromRecord } from './trial-summary.js';

const record: TrialRecord = {
  sweepId: 's',
  trialId: 't3',
  index: 3,
  params: { weight_decay: 1 },
  status: 'completed',
  attempts: 1,
  phase: 'grokking',
  tTrain: 200,
  tVal: 900,
  outcome: {
    status: 'completed',
    steps: 1000,
    maxSteps: 1000,
    firstStepAtThreshold: { train: 200, val: 900 },
    final: { trainAcc: 1, valAcc: 0.995, trainLoss: 0.01 },
  },
} as TrialRecord;

describe('summaryFromRecord', () => {
  it("gives a retried trial's stored metric, as its first attempt would have", () => {
    expect(summaryFromRecord(record, 'steps_to_generalize')).toMatchObject({
      trialId: 't3',
      index: 3,
      status: 'completed',
      phase: 'grokking',
      metric: 900,
      recorded: false,
    });
    expect(summaryFromRecord(record, 'val_accuracy').metric).toBe(0.995);
  });

  it('has no metric without a metric name or a stored outcome', () => {
    expect(summaryFromRecord(record).metric).toBeNull();
    const { outcome: _, ...bare } = record;
    expect(summaryFromRecord(bare as TrialRecord, 'steps_to_generalize').metric).toBeNull();
  });
});
