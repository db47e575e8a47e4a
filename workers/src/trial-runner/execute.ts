import {
  type AnyTrainer,
  type PackedTrial,
  splitIntoPacks,
  type TrainerContext,
  type TrialOutcome,
} from '@grokmap/plugin-sdk';
import type { Logger } from 'pino';
import { FileCheckpointStore } from '../checkpoints.js';
import type { TrainerRegistry } from '../registry.js';
import type { TrialCallbacks } from './pool.js';
import type { ChildTrialResult, RunTrialJob, TrialRunResult } from './protocol.js';

/** Where each trial's progress, checkpoints and result go, by its position in the run. */
export interface PackCallbacks {
  onProgress(index: number, report: Parameters<TrialCallbacks['onProgress']>[0]): void;
  onCheckpoint(index: number, uri: string, step: number): void;
  onResult(index: number, result: ChildTrialResult): void;
}

/**
 * Run one trial, or the trials of a pack, with a trainer from the registry:
 * validate each trial's parameters with the plugin's schema, give each its
 * own checkpoint store and context, and turn whatever happens into one
 * result per trial (never a thrown error). A trainer that declares
 * `packing` gets compatible trials together; any other trains them one
 * after another in this process, which still saves the per-trial cost of
 * the orchestration around it.
 */
export async function executeTrials(
  registry: TrainerRegistry,
  jobs: readonly RunTrialJob[],
  callbacks: PackCallbacks,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  const trainerName = jobs[0]?.trainer;
  let trainer: AnyTrainer | undefined;
  try {
    trainer = trainerName === undefined ? undefined : await registry.get(trainerName);
  } catch (err) {
    for (const i of jobs.keys()) callbacks.onResult(i, failed(err));
    return;
  }
  if (!trainer) {
    const message = `this worker does not host trainer '${trainerName}'`;
    for (const i of jobs.keys()) callbacks.onResult(i, { kind: 'invalid-params', message });
    return;
  }
  const valid: { index: number; params: Record<string, unknown> }[] = [];
  jobs.forEach((job, index) => {
    const parsed = trainer.params.safeParse(job.params);
    if (parsed.success) valid.push({ index, params: parsed.data as Record<string, unknown> });
    else callbacks.onResult(index, { kind: 'invalid-params', message: describeIssues(parsed.error.issues) });
  });
  const contextFor = (index: number): TrainerContext => {
    const job = jobs[index]!;
    return {
      trialId: job.trialId,
      attempt: job.attempt,
      threshold: job.threshold,
      report: (report) => callbacks.onProgress(index, report),
      checkpoint: new FileCheckpointStore(job.checkpointDir, job.trialId, job.checkpointHint, (uri, step) =>
        callbacks.onCheckpoint(index, uri, step),
      ),
      signal,
      logger: logger.child({ trialId: job.trialId }),
      device: job.device,
    };
  };

  if (trainer.packing && trainer.trainPack && valid.length > 1) {
    for (const pack of splitIntoPacks(valid, (v) => v.params, trainer.packing)) {
      const members = pack.map((k) => valid[k]!);
      const trials: PackedTrial[] = members.map((m) => ({ params: m.params, ctx: contextFor(m.index) }));
      const first = jobs[members[0]!.index]!;
      try {
        const outcomes = await trainer.trainPack(trials, {
          signal,
          logger: logger.child({ pack: members.map((m) => jobs[m.index]!.trialId) }),
          device: first.device,
          threshold: first.threshold,
        });
        for (const [k, m] of members.entries())
          callbacks.onResult(m.index, outcomeOrMissing(outcomes[k], trainer.name));
      } catch (err) {
        for (const m of members) callbacks.onResult(m.index, failed(err));
      }
    }
    return;
  }
  for (const { index, params } of valid) {
    try {
      const outcome = await trainer.train(params, contextFor(index));
      callbacks.onResult(index, { kind: 'outcome', outcome });
    } catch (err) {
      callbacks.onResult(index, failed(err));
    }
  }
}

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(params)'}: ${i.message}`).join('; ');
}

function failed(err: unknown): ChildTrialResult {
  const e = err as Error;
  return { kind: 'failed', message: `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`.slice(0, 4000) };
}

function outcomeOrMissing(outcome: TrialOutcome | undefined, trainer: string): ChildTrialResult {
  return outcome
    ? { kind: 'outcome', outcome }
    : { kind: 'failed', message: `trainer '${trainer}' returned no outcome for this trial of its pack` };
}

/** Runs trials in the worker's own process: for trusted, instant trainers (benchmarks of orchestration). */
export class InlineTrialRunner {
  constructor(
    private readonly registry: TrainerRegistry,
    private readonly logger: Logger,
  ) {}

  async runPack(
    jobs: readonly RunTrialJob[],
    callbacks: readonly TrialCallbacks[],
    signal: AbortSignal,
  ): Promise<TrialRunResult[]> {
    const results: TrialRunResult[] = jobs.map(() => ({ kind: 'failed', message: 'no result' }));
    await executeTrials(
      this.registry,
      jobs,
      {
        onProgress: (i, report) => callbacks[i]?.onProgress(report),
        onCheckpoint: (i, uri, step) => callbacks[i]?.onCheckpoint(uri, step),
        onResult: (i, result) => {
          results[i] = result;
        },
      },
      signal,
      this.logger,
    );
    return results;
  }

  async close(): Promise<void> {}
}
