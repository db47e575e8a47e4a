import type { TrialOutcome } from '@grokmap/plugin-sdk';

/**
 * The value of a spec's `metric.name` for a finished trial. Censored runs
 * (never generalized within max_steps) get the budget itself for step
 * metrics, so they count as "at least this slow", not as missing.
 */
export function metricValue(name: string | undefined, outcome: Omit<TrialOutcome, 'curves'>): number | null {
  if (!name) return null;
  switch (name) {
    case 'steps_to_generalize':
      return outcome.firstStepAtThreshold.val ?? outcome.maxSteps;
    case 'steps_to_fit':
      return outcome.firstStepAtThreshold.train ?? outcome.maxSteps;
    case 'grokking_delay': {
      const { train, val } = outcome.firstStepAtThreshold;
      return train !== null ? (val ?? outcome.maxSteps) - train : outcome.maxSteps;
    }
    case 'val_accuracy':
      return outcome.final.valAcc;
    case 'train_accuracy':
      return outcome.final.trainAcc;
    case 'val_loss':
      return outcome.final.valLoss ?? null;
    default: {
      const extra = outcome.extra?.[name];
      return typeof extra === 'number' ? extra : null;
    }
  }
}
