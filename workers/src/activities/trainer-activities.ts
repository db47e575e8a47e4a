import { classifyOutcome } from '@grokmap/analysis';
import type { ProgressReport, TrialOutcome } from '@grokmap/plugin-sdk';
import type { PlannedTrial, RunTrialInput, RunTrialPackInput, TrialSummary } from '@grokmap/workflows';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { metricValue } from '../metric.js';
import type { ResultsStore } from '../store/types.js';
import { FINAL_TRIAL_STATUSES } from '../store/types.js';
import type { TrialRunner, TrialRunResult } from '../trial-runner/index.js';
import { summaryFromRecord } from './trial-summary.js';

export interface TrainerActivityDeps {
  store: ResultsStore;
  runner: TrialRunner;
  checkpointDir: string;
  logger: Logger;
}

/**
 * Heartbeat details: where a retry on another worker resumes from, and the
 * step the trial has reached. The server keeps the latest details of every
 * running activity without writing history, so `sweep status` and `sweep
 * watch` read each trial's step there (trialStepsFromHeartbeat), at no cost
 * to the sweep's history however many trials run and however long.
 */
export interface TrialHeartbeat {
  step: number;
  checkpointUri?: string;
  /** A single trial's id (a pack's details are keyed by trial id instead). */
  trialId?: string;
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

/** Heartbeat details of a pack: each trial's own resume point. */
export interface PackHeartbeat {
  trials: Record<string, TrialHeartbeat>;
}

/** The step of each trial in a running activity's heartbeat details (nothing for details of another shape). */
export function trialStepsFromHeartbeat(details: unknown): { trialId: string; step: number }[] {
  if (typeof details !== 'object' || details === null) return [];
  const beat = (trialId: unknown, b: unknown) =>
    typeof trialId === 'string' &&
    typeof b === 'object' &&
    b !== null &&
    typeof (b as TrialHeartbeat).step === 'number'
      ? [{ trialId, step: (b as TrialHeartbeat).step }]
      : [];
  if ('trials' in details) {
    const trials = (details as PackHeartbeat).trials;
    return typeof trials === 'object' && trials !== null
      ? Object.entries(trials).flatMap(([id, b]) => beat(id, b))
      : [];
  }
  return beat((details as TrialHeartbeat).trialId, details);
}

type TrialRun = Omit<RunTrialInput, 'trial'>;

/**
 * `runTrial`: trains one trial in a child process, heartbeats its progress
 * with the latest checkpoint (so a retry resumes rather than restarts),
 * classifies the outcome and records it once. A trial already recorded
 * (a duplicate delivery) returns its stored summary without training.
 * `runTrialPack` does the same for several trials in one process, each
 * still resumed from its own checkpoint and recorded on its own.
 */
export function createTrainerActivities(deps: TrainerActivityDeps) {
  return {
    async runTrial(input: RunTrialInput): Promise<TrialSummary> {
      const { trial, ...run } = input;
      const [summary] = await trainTrials(deps, run, [trial], false);
      return summary!;
    },
    async runTrialPack(input: RunTrialPackInput): Promise<TrialSummary[]> {
      const { trials, ...run } = input;
      return trainTrials(deps, run, trials, true);
    },
  };
}

async function trainTrials(
  deps: TrainerActivityDeps,
  input: TrialRun,
  trials: readonly PlannedTrial[],
  packed: boolean,
): Promise<TrialSummary[]> {
  const ctx = Context.current();
  const { sweepId } = input;
  const attempt = ctx.info.attempt;
  const summaries: (TrialSummary | undefined)[] = [];
  const todo: PlannedTrial[] = [];
  /** Where each trial still to train goes in `summaries`. */
  const slots: number[] = [];
  for (const trial of trials) {
    const existing = await deps.store.getTrial(trial.trialId);
    if (existing && FINAL_TRIAL_STATUSES.includes(existing.status))
      summaries.push(summaryFromRecord(existing, input.metricName));
    else {
      slots.push(summaries.length);
      summaries.push(undefined);
      todo.push(trial);
    }
  }
  if (todo.length === 0) return summaries as TrialSummary[];
  for (const trial of todo) {
    await deps.store.markTrialRunning({
      sweepId,
      trialId: trial.trialId,
      index: trial.index,
      params: trial.params,
      attempt,
    });
  }

  const previous = ctx.info.heartbeatDetails as TrialHeartbeat | PackHeartbeat | undefined;
  const beats = new Map<string, TrialHeartbeat>(
    todo.map((t) => [t.trialId, previousBeat(previous, t.trialId, packed) ?? { step: 0 }]),
  );
  const details = (): TrialHeartbeat | PackHeartbeat =>
    packed
      ? { trials: Object.fromEntries(beats) }
      : { ...beats.get(todo[0]!.trialId)!, trialId: todo[0]!.trialId };
  // Heartbeat on a timer too, so cancellation reaches a trainer between its progress reports.
  const keepAlive = setInterval(() => ctx.heartbeat(details()), 1_000);
  let results: TrialRunResult[];
  try {
    results = await deps.runner.runPack(
      todo.map((trial) => {
        const hint = beats.get(trial.trialId)?.checkpointUri;
        return {
          trialId: trial.trialId,
          trainer: input.trainer,
          params: trial.params,
          threshold: input.threshold,
          attempt,
          checkpointDir: deps.checkpointDir,
          ...(hint ? { checkpointHint: hint } : {}),
          device: { kind: 'cpu' as const },
          // The spec's heartbeat timeout is the stall limit: our timer heartbeats hide a hung plugin from Temporal.
          ...(ctx.info.heartbeatTimeoutMs ? { stallTimeoutMs: ctx.info.heartbeatTimeoutMs } : {}),
        };
      }),
      todo.map((trial) => ({
        onProgress: (report: ProgressReport) => {
          beats.set(trial.trialId, { ...beats.get(trial.trialId)!, step: report.step });
          ctx.heartbeat(details());
        },
        onCheckpoint: (uri: string, step: number) => {
          beats.set(trial.trialId, { step, checkpointUri: uri });
          ctx.heartbeat(details());
        },
      })),
      ctx.cancellationSignal,
    );
  } finally {
    clearInterval(keepAlive);
  }

  const why = ctx.cancellationSignal.aborted ? cancelReason(ctx.cancellationSignal) : undefined;
  let retryable: ApplicationFailure | undefined;
  let interrupted: CancelledFailure | undefined;
  for (const [k, trial] of todo.entries()) {
    const result = results[k]!;
    const base = {
      sweepId,
      trialId: trial.trialId,
      index: trial.index,
      params: trial.params,
      attempts: attempt,
    };
    const at = slots[k]!;
    if (result.kind === 'invalid-params' || result.kind === 'failed') {
      // A plugin that rejects its parameters or throws fails the same way on every attempt: record, don't retry.
      const reason =
        result.kind === 'invalid-params' ? `invalid parameters: ${result.message}` : result.message;
      const { recorded } = await deps.store.recordTrialFailure({ ...base, status: 'error', error: reason });
      summaries[at] = failureSummary(base, 'error', reason, recorded);
    } else if (result.kind === 'crashed') {
      if (result.hung) {
        const reason = `timed out: ${result.message}`;
        const { recorded } = await deps.store.recordTrialFailure({
          ...base,
          status: 'timed_out',
          error: reason,
        });
        summaries[at] = failureSummary(base, 'timed_out', reason, recorded);
      } else {
        // Out of memory or a crash of the process: retried (with backoff) by the workflow's retry policy;
        // the trials of a pack that were recorded meanwhile are not trained again.
        retryable ??= ApplicationFailure.retryable(
          result.message,
          result.outOfMemory ? 'TrialOutOfMemory' : 'TrialProcessCrashed',
        );
      }
    } else if (why && result.outcome.status === 'cancelled') {
      const steps = result.outcome.steps;
      if (why === 'WORKER_SHUTDOWN') {
        // The worker is draining: the trial checkpointed; a retryable failure lets another worker resume it.
        retryable ??= ApplicationFailure.retryable(`worker shut down at step ${steps}`, 'WorkerShutdown');
      } else if (why === 'CANCELLED') {
        await deps.store.recordTrialFailure({ ...base, status: 'cancelled', error: 'sweep cancelled' });
        interrupted ??= new CancelledFailure('trial cancelled');
      } else {
        // TIMED_OUT, NOT_FOUND, PAUSED, RESET...: the server has already ended this attempt and decides
        // whether to retry it; recording 'cancelled' (a final status) would turn that retry into a no-op.
        interrupted ??= new CancelledFailure(`trial attempt ended by the server (${why}) at step ${steps}`);
      }
    } else {
      summaries[at] = await recordOutcome(deps, input, base, result.outcome);
    }
  }
  if (interrupted) throw interrupted;
  if (retryable) throw retryable;
  return summaries as TrialSummary[];
}

function previousBeat(
  previous: TrialHeartbeat | PackHeartbeat | undefined,
  trialId: string,
  packed: boolean,
): TrialHeartbeat | undefined {
  if (!previous) return undefined;
  if (packed) return 'trials' in previous ? previous.trials[trialId] : undefined;
  return 'step' in previous ? previous : undefined;
}

async function recordOutcome(
  deps: TrainerActivityDeps,
  input: TrialRun,
  base: { sweepId: string; trialId: string; index: number; params: PlannedTrial['params']; attempts: number },
  outcome: TrialOutcome,
): Promise<TrialSummary> {
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
    trialId: base.trialId,
    index: base.index,
    status: outcome.status,
    phase: classification?.phase ?? null,
    tTrain: classification?.tTrain ?? null,
    tVal: classification?.tVal ?? null,
    metric: metricValue(input.metricName, outcome),
    attempts: base.attempts,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    recorded,
  };
}
