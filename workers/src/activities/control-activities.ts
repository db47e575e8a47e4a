import { proposeTrials } from '@grokmap/analysis/samplers';
import type {
  FinishSweepInput,
  RecordTrialFailureInput,
  RegisterSweepInput,
  SuggestTrialsInput,
  SuggestTrialsResult,
} from '@grokmap/workflows';
import type { Logger } from 'pino';
import type { ResultsStore } from '../store/types.js';

export interface ControlActivityDeps {
  store: ResultsStore;
  logger: Logger;
  /** Writes the sweep's report and returns its folder; absent where reports are off. */
  writeReport?: (sweepId: string) => Promise<string>;
}

/** Activities on the control queue: bookkeeping in the results store and reports. All idempotent. */
export function createControlActivities(deps: ControlActivityDeps) {
  return {
    async registerSweep(input: RegisterSweepInput): Promise<void> {
      const now = new Date().toISOString();
      const existing = await deps.store.getSweep(input.sweepId);
      await deps.store.saveSweep({
        sweepId: input.sweepId,
        name: input.spec.name,
        trainer: input.spec.trainer,
        method: input.spec.method,
        spec: input.spec,
        status: 'running',
        plannedTrials: input.plannedTrials,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
    },

    async suggestTrials(input: SuggestTrialsInput): Promise<SuggestTrialsResult> {
      return proposeTrials(input.spec, input.sweepId, input.state, input.n);
    },

    async recordTrialFailure(input: RecordTrialFailureInput): Promise<{ recorded: boolean }> {
      const { trial } = input;
      return deps.store.recordTrialFailure({
        sweepId: input.sweepId,
        trialId: trial.trialId,
        index: trial.index,
        params: trial.params,
        attempts: input.attempts,
        status: input.status,
        error: input.reason,
      });
    },

    async finishSweep(input: FinishSweepInput): Promise<{ reportDir?: string }> {
      let reportDir: string | undefined;
      if (input.writeReport && deps.writeReport) {
        try {
          reportDir = await deps.writeReport(input.sweepId);
        } catch (err) {
          // A report that cannot be drawn must not lose the sweep's results; say so and carry on.
          deps.logger.error({ err, sweepId: input.sweepId }, 'report failed');
        }
      }
      await deps.store.setSweepStatus(input.sweepId, input.status, {
        ...(input.verdict ? { verdict: input.verdict } : {}),
        ...(reportDir ? { reportDir } : {}),
      });
      return reportDir ? { reportDir } : {};
    },
  };
}
