import type { Logger } from 'pino';
import { FileCheckpointStore } from '../checkpoints.js';
import type { TrainerRegistry } from '../registry.js';
import type { TrialCallbacks, TrialRunResult } from './pool.js';
import type { RunTrialJob } from './protocol.js';

/**
 * Run one trial with a trainer from the registry: validate its parameters
 * with the plugin's schema, give it a checkpoint store and an abort signal,
 * and turn whatever happens into a result (never a thrown error).
 */
export async function executeTrial(
  registry: TrainerRegistry,
  job: RunTrialJob,
  callbacks: TrialCallbacks,
  signal: AbortSignal,
  logger: Logger,
): Promise<TrialRunResult> {
  try {
    const trainer = await registry.get(job.trainer);
    if (!trainer)
      return { kind: 'invalid-params', message: `this worker does not host trainer '${job.trainer}'` };
    const parsed = trainer.params.safeParse(job.params);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`)
        .join('; ');
      return { kind: 'invalid-params', message: problems };
    }
    const checkpoint = new FileCheckpointStore(
      job.checkpointDir,
      job.trialId,
      job.checkpointHint,
      (uri, step) => callbacks.onCheckpoint(uri, step),
    );
    const outcome = await trainer.train(parsed.data, {
      trialId: job.trialId,
      attempt: job.attempt,
      threshold: job.threshold,
      report: (report) => callbacks.onProgress(report),
      checkpoint,
      signal,
      logger: logger.child({ trialId: job.trialId }),
      device: job.device,
    });
    return { kind: 'outcome', outcome };
  } catch (err) {
    const e = err as Error;
    return { kind: 'failed', message: `${e.name ?? 'Error'}: ${e.message}`.slice(0, 4000) };
  }
}

/** Runs trials in the worker's own process: for trusted, instant trainers (benchmarks of orchestration). */
export class InlineTrialRunner {
  constructor(
    private readonly registry: TrainerRegistry,
    private readonly logger: Logger,
  ) {}

  run(job: RunTrialJob, callbacks: TrialCallbacks, signal: AbortSignal): Promise<TrialRunResult> {
    return executeTrial(this.registry, job, callbacks, signal, this.logger);
  }

  async close(): Promise<void> {}
}
