import {
  initialSamplerState,
  observeTrials,
  proposalDue,
  roundBlockers,
} from '@grokmap/analysis/sampler-state';
import type { SamplerResult } from '@grokmap/analysis/sampler-types';
import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { type TrainerActivities, type TrialSummary, trainerTaskQueue } from './activity-types.js';
import {
  quickControlActivities,
  reportControlActivities,
  suggestionControlActivities,
} from './control-proxies.js';
import { finishSweep, recordSweepFailure } from './finish-sweep.js';
import { runPartitionedSweep, shouldPartition } from './partitioned-sweep.js';
import { proposalRounds } from './proposal-rounds.js';
import { initialStaticState, staticSampler } from './samplers/static-sampler.js';
import { shardCount } from './shards.js';
import type { SweepSpec } from './spec.js';
import { failureReason, sweepFailureVerdict } from './sweep-failure.js';
import {
  partitionProgressSignal,
  progressQuery,
  type TrialProgress,
  trialProgressSignal,
  trialsProgressSignal,
} from './sweep-messages.js';
import {
  activitiesInFlight,
  applyTrialSummary,
  DEFAULT_MAX_HISTORY_EVENTS,
  failedActivityOutcomes,
  failureBudgetReason,
  failureBudgetSpent,
  initialSweepState,
  packsOf,
  type RunningTrial,
  type SweepProgress,
  type SweepState,
  shouldDrainForContinueAsNew,
} from './sweep-state.js';
import { type PlannedTrial, trialIdFor } from './trials.js';

/** Patch: the history reserve before continue-as-new counts activities in flight, not trials. */
const PER_ACTIVITY_RESERVE = 'drain-reserve-per-activity';
/** Patch marker: wide grid and random sweeps run as concurrent shards (shards.ts). */
const SHARDED_SWEEPS = 'sharded-sweeps';

// ---- Interface: input, result, queries and signals ----

export interface SweepInput {
  sweepId: string;
  spec: SweepSpec;
  options?: {
    /** Continue as new after this many history events (tests force it low). */
    maxHistoryEvents?: number;
    /** Write the report when the sweep finishes (default true). */
    writeReport?: boolean;
    /** Grid/random sweeps above this many trials run as child sweeps of this size (default 20,000). */
    partitionSize?: number;
    /** Grid/random sweeps with more trials in flight run as shards of this many (default 64, shards.ts). */
    shardParallel?: number;
  };
  /** A sharded sweep's shards (shards.ts), carried across continue-as-new; absent: decided on the first run. */
  shards?: number;
  /**
   * Set on a partition: the child sweep owns trial indices [start, end) of its parent's plan;
   * `failuresBefore` counts the sweep's failures in partitions that ended before it started.
   */
  partition?: { start: number; end: number; parentWorkflowId: string; failuresBefore?: number };
  /** Carried across continue-as-new; absent on the first run. */
  carried?: SweepState;
}

export interface SweepResult {
  sweepId: string;
  status: 'completed' | 'failed' | 'cancelled';
  verdict?: string;
  state: SweepState;
  reportDir?: string;
}

/**
 * Runs a sweep: keeps up to `budget.parallel` trials in flight as `runTrial`
 * activities on the trainer queue the spec names, records each result once
 * (the activity writes it; the workflow records trials that failed every
 * attempt), and continues as new before its history grows large — after
 * draining the window, so no trial straddles two runs. Cancelling the sweep
 * cancels in-flight trials (they stop at their next heartbeat) and records
 * them as cancelled. Stops early with a verdict when the failure budget is
 * spent.
 */
export async function sweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const { spec, sweepId, partition } = input;
  if (!partition) {
    const shards = sweepShards(input);
    if (shards > 1 || shouldPartition(spec, input.options?.partitionSize))
      return runPartitionedSweep(input, shards);
  }
  const limits = spec.limits;
  const trainerOptions = {
    taskQueue: trainerTaskQueue(spec.resources.queue),
    startToCloseTimeout: `${limits.trial_timeout_s}s`,
    heartbeatTimeout: `${limits.heartbeat_timeout_s}s`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts: limits.max_attempts,
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      nonRetryableErrorTypes: ['InvalidTrialParams'],
    },
  };
  const trainer = proxyActivities<TrainerActivities>(trainerOptions);
  const packSize = spec.resources.pack ?? 1;
  // A pack trains its trials in one process, one after another unless the trainer packs them.
  const packTrainer =
    packSize > 1
      ? proxyActivities<TrainerActivities>({
          ...trainerOptions,
          startToCloseTimeout: `${limits.trial_timeout_s * packSize}s`,
        })
      : trainer;
  const control = quickControlActivities();
  const reporting = reportControlActivities();
  const suggesting = suggestionControlActivities();

  const modelBased = spec.method === 'bayes' || spec.method === 'adaptive';
  const gridOrRandom = modelBased ? undefined : staticSampler(spec, sweepId);
  const rounds = modelBased ? proposalRounds(spec) : undefined;
  let state: SweepState =
    input.carried ??
    (modelBased
      ? initialSweepState(spec.budget.trials, initialSamplerState(spec))
      : partition
        ? initialSweepState(partition.end - partition.start, {
            kind: 'static',
            nextIndex: partition.start,
            total: partition.end,
          })
        : initialSweepState(initialStaticState(spec).total, initialStaticState(spec)));
  const maxHistoryEvents = input.options?.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const running = new Map<string, RunningTrial & { trial: PlannedTrial; activity: number }>();
  let phase: SweepProgress['status'] = 'running';
  let exhausted =
    state.sampler.kind === 'static'
      ? state.sampler.nextIndex >= state.sampler.total
      : state.sampler.nextIndex >= state.planned;
  // A model sampler may propose nothing while it waits for a batch; ask again only after a trial finishes.
  let proposeAfterFinished = -1;
  let resultsDuringSuggestion: SamplerResult[] | undefined;
  // A failure out of a trial's completion handler, rethrown by the main loop: left in the handler it
  // would be an unhandled rejection, which fails only the workflow task, retried without end.
  let fatal: { error: unknown } | undefined;

  setHandler(progressQuery, () => ({
    sweepId,
    name: spec.name,
    method: spec.method,
    status: phase,
    planned: state.planned,
    started: state.started,
    finished: state.finished,
    byStatus: state.byStatus,
    byPhase: state.byPhase,
    failures: state.failures,
    runs: state.runs,
    running: [...running.values()].map(({ trial: _trial, activity: _activity, ...r }) => r),
    historyLength: workflowInfo().historyLength,
    ...(state.sampler.kind !== 'static' && !exhausted
      ? {
          nextRound: {
            startsAt: state.sampler.nextIndex,
            waitsFor: roundBlockers(state.sampler, rounds!).indices.map((i) => trialIdFor(sweepId, i)),
          },
        }
      : {}),
  }));
  const onTrialProgress = ({ trialId, step, attempt }: TrialProgress) => {
    const r = running.get(trialId);
    if (r && (r.step === undefined || step >= r.step || attempt !== r.attempt)) {
      r.step = step;
      r.attempt = attempt;
    }
  };
  // Trainer workers report steps in their heartbeats now (the CLI reads them from the server);
  // workers of earlier versions still send these signals during an upgrade.
  setHandler(trialProgressSignal, onTrialProgress);
  setHandler(trialsProgressSignal, ({ trials }) => {
    for (const t of trials) onTrialProgress(t);
  });

  if (!input.carried && !partition)
    await control.registerSweep({ sweepId, spec, plannedTrials: state.planned });

  const onFinished = (
    summary: Pick<TrialSummary, 'trialId' | 'index' | 'status' | 'phase' | 'metric'>,
  ): void => {
    running.delete(summary.trialId);
    state = applyTrialSummary(state, summary);
    if (state.sampler.kind !== 'static') {
      const { index, status, phase, metric } = summary;
      const result = { index, status, phase, metric };
      state = { ...state, sampler: observeTrials(state.sampler, [result]) };
      resultsDuringSuggestion?.push(result);
    }
  };

  const propose = async (n: number): Promise<PlannedTrial[]> => {
    const sampler = state.sampler;
    if (sampler.kind === 'static') {
      const proposal = gridOrRandom!.propose(sampler, n);
      state = { ...state, sampler: proposal.state };
      exhausted = proposal.exhausted;
      return proposal.trials;
    }
    // Pipelined rounds (rounds.ts) keep trials running while a suggestion is out: what they
    // report meanwhile is applied again to the state the suggestion returns, or it would be lost.
    resultsDuringSuggestion = [];
    const proposal = await suggesting.suggestTrials({ sweepId, spec, state: sampler, n });
    state = { ...state, sampler: observeTrials(proposal.state, resultsDuringSuggestion) };
    resultsDuringSuggestion = undefined;
    exhausted = proposal.exhausted || (proposal.trials.length === 0 && running.size === 0);
    if (proposal.trials.length === 0) proposeAfterFinished = state.finished;
    return proposal.trials;
  };

  let launches = 0;
  const launch = (trials: PlannedTrial[]): void => {
    const activity = launches++;
    for (const trial of trials)
      running.set(trial.trialId, { trialId: trial.trialId, index: trial.index, trial, activity });
    state = { ...state, started: state.started + trials.length };
    const run = {
      sweepId,
      trainer: spec.trainer,
      threshold: spec.phase.threshold,
      delaySteps: spec.phase.delay_steps,
      ...(spec.metric ? { metricName: spec.metric.name } : {}),
    };
    const done =
      packSize > 1
        ? packTrainer.runTrialPack({ ...run, trials })
        : trainer.runTrial({ ...run, trial: trials[0]! }).then((summary) => [summary]);
    done.then(
      (summaries) => {
        for (const summary of summaries) onFinished(summary);
      },
      async (err: unknown) => {
        if (isCancellation(err)) return; // recorded below, once the sweep's cancellation is handled
        const reason = failureReason(err);
        const status = reason.startsWith('timeout') ? 'timed_out' : 'error';
        // Recorded even if the sweep is being cancelled meanwhile: the trials did fail. A pack's trials
        // recorded as finished before it failed keep their records, and are counted as they ended.
        const records = await CancellationScope.nonCancellable(() =>
          Promise.all(
            trials.map((trial) =>
              control.recordTrialFailure({
                sweepId,
                trial,
                status,
                attempts: limits.max_attempts,
                reason,
                ...(spec.metric ? { metricName: spec.metric.name } : {}),
              }),
            ),
          ),
        ).catch((error: unknown) => {
          fatal ??= { error };
          return undefined;
        });
        if (!records) return;
        for (const outcome of failedActivityOutcomes(trials, records, status)) onFinished(outcome);
      },
    );
  };

  try {
    for (;;) {
      if (fatal) throw fatal.error;
      // Room is kept for the events of each activity in flight: a pack's trials share one. Runs before
      // this patch kept it for each trial, so with ~850 trials in flight a packed sweep drained after
      // every launch and ran in whole waves.
      const inFlight =
        packSize > 1 && patched(PER_ACTIVITY_RESERVE) ? activitiesInFlight(running.values()) : running.size;
      const drain = shouldDrainForContinueAsNew(
        workflowInfo().historyLength,
        workflowInfo().continueAsNewSuggested,
        inFlight,
        { maxHistoryEvents },
      );
      // A partition counts the failures of the partitions its parent has seen end before it.
      const earlier = partition?.failuresBefore ?? 0;
      const stop = failureBudgetSpent(state, spec, earlier);
      if (stop && !state.stopReason) {
        state = { ...state, stopReason: failureBudgetReason(state.failures + earlier, spec) };
      }
      phase = stop ? 'stopping' : drain ? 'draining' : 'running';
      // Model samplers propose in rounds, each once the trials it is to see have finished (rounds.ts),
      // so a sweep's trials depend only on its seed, never on the order in which trials happen to finish.
      const mayPropose =
        state.sampler.kind === 'static' ||
        (proposalDue(state.sampler, rounds!) &&
          (proposeAfterFinished < 0 || state.finished > proposeAfterFinished));
      if (!drain && !stop && !exhausted && mayPropose && running.size < spec.budget.parallel) {
        proposeAfterFinished = -1;
        for (const pack of packsOf(await propose(spec.budget.parallel - running.size), packSize))
          launch(pack);
        continue;
      }
      if (running.size === 0) {
        if (!exhausted && !drain && !stop) {
          // Nothing running and nothing proposed: the sampler has no more to offer.
          exhausted = true;
        }
        if (drain && !stop && !exhausted) {
          if (partition) await reportToParent(partition.parentWorkflowId, state);
          await continueAsNew<typeof sweepWorkflow>({
            ...input,
            carried: { ...state, runs: state.runs + 1 },
          });
        }
        break;
      }
      const before = state.finished;
      await condition(() => state.finished > before || fatal !== undefined);
    }
  } catch (err) {
    const verdict = sweepFailureVerdict(err);
    if (verdict !== undefined) {
      phase = 'failing';
      await recordSweepFailure(sweepId, verdict, [...running.values()], !partition);
    }
    if (!isCancellation(err)) throw err;
    phase = 'cancelling';
    // The trials' own activities record `cancelled` when they stop; recording again is a no-op,
    // and covers trials that were scheduled but had not started on a worker.
    await CancellationScope.nonCancellable(async () => {
      await Promise.all(
        [...running.values()].map((r) =>
          control.recordTrialFailure({
            sweepId,
            trial: r.trial,
            status: 'cancelled',
            attempts: r.attempt ?? 0,
            reason: 'sweep cancelled',
          }),
        ),
      );
      if (!partition) {
        await control.finishSweep({
          sweepId,
          status: 'cancelled',
          verdict: 'cancelled by request',
          writeReport: false,
        });
      }
    });
    throw err;
  }

  phase = 'finishing';
  const status = state.stopReason ? 'failed' : 'completed';
  // A partition's parent records the sweep's end and writes its report.
  if (partition)
    return { sweepId, status, ...(state.stopReason ? { verdict: state.stopReason } : {}), state };
  return finishSweep(reporting, sweepId, state, input.options?.writeReport ?? true);
}

/** A partition tells its parent its counts at each continue-as-new, so the parent's progress stays live. */
async function reportToParent(parentWorkflowId: string, state: SweepState): Promise<void> {
  const { finished, started, byStatus, byPhase, failures } = state;
  const { workflowId } = workflowInfo();
  await getExternalWorkflowHandle(parentWorkflowId)
    .signal(partitionProgressSignal, { finished, started, byStatus, byPhase, failures, workflowId })
    .catch(() => undefined);
}

/**
 * How many shards a sweep runs as. Decided on its first run and carried after: a sweep started
 * before shards existed, or one that continued as new unsharded, keeps running as it began.
 */
function sweepShards(input: SweepInput): number {
  if (input.shards !== undefined) return input.shards;
  if (input.carried) return 1;
  const shards = shardCount(input.spec, input.options?.shardParallel);
  // Sweeps whose histories predate shards replay their first run unsharded.
  return shards > 1 && patched(SHARDED_SWEEPS) ? shards : 1;
}
