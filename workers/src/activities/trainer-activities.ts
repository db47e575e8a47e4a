import { classifyOutcome } from '@grokmap/analysis';
import type { ProgressReport } from '@grokmap/plugin-sdk';
import type { RunTrialInput, TrialSummary } from '@grokmap/workflows';
import { trialProgressSignal } from '@grokmap/workflows';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { metricValue } from '../metric.js';
import type { ResultsStore, TrialRecord } from '../store/types.js';
import { FINAL_TRIAL_STATUSES } from '../store/types.js';
import type { TrialRunner } from '../trial-runner/index.js';

export interface TrainerActivityDeps {
  store: ResultsStore;
  runner: TrialRunner;
  checkpointDir: string;
  logger: Logger;
}

/** Heartbeat details: where a retry on another worker resumes from. */
export interface TrialHeartbeat {
  step: number;
  checkpointUri?: string;
}

function failureSummary(
  trial: { trialId: string; index: number; attempts: number },
  status: 'error' | 'timed_out',
  reason: string,
  recorded: boolean,
): TrialSummary {
  const { trialId, index, attempts } = trial;
  return {
    trialId,
    index,
    status,
    phase: null,
    tTrain: null,
    tVal: null,
    metric: null,
    attempts,
    reason,
    recorded,
  };
}

function summaryFromRecord(record: TrialRecord): TrialSummary {
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

/**
 * Why Temporal aborted this attempt. The worker aborts `cancellationSignal`
 * with a `CancelledFailure` whose message is the cancel reason: an
 * `ActivityCancelReason` name (`CANCELLED` when the workflow cancelled the
 * activity, `TIMED_OUT`, `NOT_FOUND`, `PAUSED`, `RESET`, `WORKER_SHUTDOWN`
 * once `shutdownGraceTime` has passed after `worker.shutdown()`), or
 * `WORKER_SHUTDOWN` for the worker's own cancellation while shutting down.
 */
export function cancelReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'CANCELLED' : String(reason);
}

/**
 * `runTrial`: trains one trial in a child process, heartbeats its progress
 * with the latest checkpoint (so a retry resumes rather than restarts),
 * classifies the outcome and records it once. A trial already recorded
 * (a duplicate delivery) returns its stored summary without training.
 */
export function createTrainerActivities(deps: TrainerActivityDeps) {
  return {
    async runTrial(input: RunTrialInput): Promise<TrialSummary> {
      const ctx = Context.current();
      const { trial, sweepId } = input;
      const attempt = ctx.info.attempt;
      const existing = await deps.store.getTrial(trial.trialId);
      if (existing && FINAL_TRIAL_STATUSES.includes(existing.status)) return summaryFromRecord(existing);

      await deps.store.markTrialRunning({
        sweepId,
        trialId: trial.trialId,
        index: trial.index,
        params: trial.params,
        attempt,
      });
      const previous = ctx.info.heartbeatDetails as TrialHeartbeat | undefined;
      let beat: TrialHeartbeat = previous ?? { step: 0 };
      // The first progress signal waits one interval too: short trials send none (a quarter of all history events otherwise).
      let lastSignal = Date.now();
      const signalProgress = (step: number) => {
        if (!input.progressWorkflowId) return;
        const now = Date.now();
        if (now - lastSignal < (input.progressIntervalMs ?? 5_000)) return;
        lastSignal = now;
        ctx.client.workflow
          .getHandle(input.progressWorkflowId)
          .signal(trialProgressSignal, { trialId: trial.trialId, step, attempt })
          .catch(() => undefined);
      };
      // Heartbeat on a timer too, so cancellation reaches a trainer between its progress reports.
      const keepAlive = setInterval(() => ctx.heartbeat(beat), 1_000);
      let result: Awaited<ReturnType<TrialRunner['run']>>;
      try {
        result = await deps.runner.run(
          {
            trialId: trial.trialId,
            trainer: input.trainer,
            params: trial.params,
            threshold: input.threshold,
            attempt,
            checkpointDir: deps.checkpointDir,
            ...(previous?.checkpointUri ? { checkpointHint: previous.checkpointUri } : {}),
            device: { kind: 'cpu' },
            // The spec's heartbeat timeout is the stall limit: our timer heartbeats hide a hung plugin from Temporal.
            ...(ctx.info.heartbeatTimeoutMs ? { stallTimeoutMs: ctx.info.heartbeatTimeoutMs } : {}),
          },
          {
            onProgress: (report: ProgressReport) => {
              beat = { ...beat, step: report.step };
              ctx.heartbeat(beat);
              signalProgress(report.step);
            },
            onCheckpoint: (uri, step) => {
              beat = { step, checkpointUri: uri };
              ctx.heartbeat(beat);
            },
          },
          ctx.cancellationSignal,
        );
      } finally {
        clearInterval(keepAlive);
      }

      const base = {
        sweepId,
        trialId: trial.trialId,
        index: trial.index,
        params: trial.params,
        attempts: attempt,
      };
      if (result.kind === 'invalid-params' || result.kind === 'failed') {
        // A plugin that rejects its parameters or throws fails the same way on every attempt: record, don't retry.
        const status = 'error' as const;
        const reason =
          result.kind === 'invalid-params' ? `invalid parameters: ${result.message}` : result.message;
        const { recorded } = await deps.store.recordTrialFailure({ ...base, status, error: reason });
        return failureSummary(base, status, reason, recorded);
      }
      if (result.kind === 'crashed') {
        if (result.hung) {
          const reason = `timed out: ${result.message}`;
          const { recorded } = await deps.store.recordTrialFailure({
            ...base,
            status: 'timed_out',
            error: reason,
          });
          return failureSummary(base, 'timed_out', reason, recorded);
        }
        // Out of memory or a crash of the process: retried (with backoff) by the workflow's retry policy.
        throw ApplicationFailure.retryable(
          result.message,
          result.outOfMemory ? 'TrialOutOfMemory' : 'TrialProcessCrashed',
        );
      }

      const outcome = result.outcome;
      if (ctx.cancellationSignal.aborted) {
        const why = cancelReason(ctx.cancellationSignal);
        if (why === 'WORKER_SHUTDOWN') {
          // The worker is draining: the trial checkpointed; a retryable failure lets another worker resume it.
          throw ApplicationFailure.retryable(`worker shut down at step ${outcome.steps}`, 'WorkerShutdown');
        }
        if (why === 'CANCELLED') {
          await deps.store.recordTrialFailure({ ...base, status: 'cancelled', error: 'sweep cancelled' });
          throw new CancelledFailure('trial cancelled');
        }
        // TIMED_OUT, NOT_FOUND, PAUSED, RESET...: the server has already ended this attempt and decides
        // whether to retry it; recording 'cancelled' (a final status) would turn that retry into a no-op.
        throw new CancelledFailure(`trial attempt ended by the server (${why}) at step ${outcome.steps}`);
      }
      const classification =
        outcome.status === 'completed'
          ? classifyOutcome(outcome, { threshold: input.threshold, delaySteps: input.delaySteps })
          : null;
      const { recorded } = await deps.store.recordTrialResult({
        ...base,
        outcome,
        phase: classification?.phase ?? null,
        tTrain: classification?.tTrain ?? null,
        tVal: classification?.tVal ?? null,
        ratio: classification?.ratio ?? null,
        valAtTrain: classification?.valAtTrain ?? null,
        semiGrokking: classification?.semiGrokking ?? false,
      });
      return {
        trialId: trial.trialId,
        index: trial.index,
        status: outcome.status,
        phase: classification?.phase ?? null,
        tTrain: classification?.tTrain ?? null,
        tVal: classification?.tVal ?? null,
        metric: metricValue(input.metricName, outcome),
        attempts: attempt,
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        recorded,
      };
    },
  };
}
