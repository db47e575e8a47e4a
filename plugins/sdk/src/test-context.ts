import pino from 'pino';
import type { Checkpoint, CheckpointStore, ProgressReport, TrainerContext } from './trainer.js';

/**
 * A real, in-memory host context for running a trainer outside a worker:
 * in a plugin's own tests, in benchmarks, in the conformance kit.
 */
export interface TestContext extends TrainerContext {
  reports: ProgressReport[];
  saved: Checkpoint[];
  abort(reason?: string): void;
}

export function createTestContext(
  options: {
    trialId?: string;
    threshold?: number;
    attempt?: number;
    initialCheckpoint?: Checkpoint;
    onReport?: (r: ProgressReport, ctx: TestContext) => void;
  } = {},
): TestContext {
  const controller = new AbortController();
  const reports: ProgressReport[] = [];
  const saved: Checkpoint[] = options.initialCheckpoint ? [options.initialCheckpoint] : [];
  const checkpoint: CheckpointStore = {
    async save(step, data) {
      saved.push({ step, data: new Uint8Array(data) });
    },
    async restore() {
      return saved[saved.length - 1];
    },
  };
  const ctx: TestContext = {
    trialId: options.trialId ?? 'test-trial',
    attempt: options.attempt ?? 1,
    threshold: options.threshold ?? 0.99,
    report(r) {
      reports.push(r);
      options.onReport?.(r, ctx);
    },
    checkpoint,
    signal: controller.signal,
    logger: pino({ level: 'silent' }),
    device: { kind: 'cpu' },
    reports,
    saved,
    abort(reason) {
      controller.abort(reason ?? 'aborted by test');
    },
  };
  return ctx;
}
