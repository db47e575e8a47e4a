import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CONTROL_TASK_QUEUE, trainerTaskQueue } from '@grokmap/workflows';
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createControlActivities } from './activities/control-activities.js';
import { withHeartbeats } from './activities/heartbeat.js';
import { createRegressionActivities } from './activities/regression-activities.js';
import { createTrainerActivities } from './activities/trainer-activities.js';
import { TrainerRegistry } from './registry.js';
import type { ResultsStore } from './store/types.js';
import { InlineTrialRunner, TrialProcessPool, type TrialRunner } from './trial-runner/index.js';

export interface TrainerWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** Resource class: the worker polls `grokmap-train-<queue>`. */
  queue: string;
  /** Trials at once; defaults to the number of GPUs when given, else CPU cores. */
  concurrency?: number;
  /** GPU indices; each trial gets one, pinned through CUDA_VISIBLE_DEVICES. */
  gpus?: number[];
  store: ResultsStore;
  checkpointDir: string;
  logger: Logger;
  /** `process` (default): each trial in a child process. `inline`: in this process (trusted instant trainers only). */
  isolation?: 'process' | 'inline';
  memoryLimitMb?: number;
  /** Kill a trial that reports no progress for this long; default 5 minutes. */
  stallTimeoutMs?: number;
  /**
   * How often a running trial's step (its heartbeat details) reaches the server, where `sweep
   * status` and `sweep watch` read it; default 5 s. Heartbeats write no history, so this costs one
   * small RPC per trial per interval and nothing in the sweep's workflow.
   */
  progressIntervalMs?: number;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has shut down. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

function runWorker(worker: Worker, cleanup: () => Promise<void>): RunningWorker {
  const done = worker.run().finally(cleanup);
  return {
    worker,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

export async function startTrainerWorker(opts: TrainerWorkerOptions): Promise<RunningWorker> {
  const gpus = opts.gpus ?? [];
  const concurrency = gpus.length > 0 ? gpus.length : (opts.concurrency ?? Math.max(1, cpus().length));
  if (gpus.length > 0 && opts.concurrency !== undefined && opts.concurrency !== gpus.length) {
    opts.logger.warn(
      { gpus, concurrency: opts.concurrency },
      'one trial per GPU: concurrency set to the number of GPUs',
    );
  }
  const runner: TrialRunner =
    opts.isolation === 'inline'
      ? new InlineTrialRunner(new TrainerRegistry(), opts.logger)
      : new TrialProcessPool({
          size: concurrency,
          logger: opts.logger,
          stallTimeoutMs: opts.stallTimeoutMs ?? 5 * 60_000,
          ...(opts.memoryLimitMb ? { memoryLimitMb: opts.memoryLimitMb } : {}),
          ...(gpus.length > 0
            ? {
                envForSlot: (slot: number) => ({ CUDA_VISIBLE_DEVICES: String(gpus[slot]) }),
                deviceForSlot: (slot: number) => ({ kind: 'gpu' as const, index: gpus[slot]! }),
              }
            : {}),
        });
  const activities = createTrainerActivities({
    store: opts.store,
    runner,
    checkpointDir: opts.checkpointDir,
    logger: opts.logger,
  });
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: trainerTaskQueue(opts.queue),
    activities,
    maxConcurrentActivityTaskExecutions: concurrency,
    // Draining on SIGTERM: in-flight trials are told to stop at once (they checkpoint and are retried
    // elsewhere, resuming); a trainer that ignores its abort signal is cut off after the force time.
    shutdownGraceTime: '1s',
    shutdownForceTime: '60s',
    // The SDK sends at most one heartbeat per interval (by default up to 0.8 × the heartbeat timeout).
    maxHeartbeatThrottleInterval: opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    defaultHeartbeatThrottleInterval: opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
  });
  opts.logger.info({ queue: trainerTaskQueue(opts.queue), concurrency, gpus }, 'trainer worker started');
  return runWorker(worker, () => runner.close());
}

export interface ControlWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  store: ResultsStore;
  logger: Logger;
  writeReport?: (sweepId: string) => Promise<string>;
  /** Where regression pages go for sweeps without a report folder. */
  reportsDir?: string;
}

export const WORKFLOWS_PATH = fileURLToPath(import.meta.resolve('@grokmap/workflows/workflows'));

export async function startControlWorker(opts: ControlWorkerOptions): Promise<RunningWorker> {
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: CONTROL_TASK_QUEUE,
    workflowsPath: WORKFLOWS_PATH,
    activities: {
      ...createControlActivities({
        store: opts.store,
        logger: opts.logger,
        ...(opts.writeReport ? { writeReport: opts.writeReport } : {}),
      }),
      // On the control queue's proxies too, with their heartbeat timeout (control-proxies.ts).
      ...withHeartbeats(
        createRegressionActivities({
          store: opts.store,
          logger: opts.logger,
          ...(opts.reportsDir ? { reportsDir: opts.reportsDir } : {}),
        }),
      ),
    },
  });
  opts.logger.info({ queue: CONTROL_TASK_QUEUE }, 'control worker started');
  return runWorker(worker, async () => undefined);
}
