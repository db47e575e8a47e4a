import {
  type Checkpoint,
  createTestContext,
  type PackContext,
  type PackedTrial,
  type TestContext,
} from '@grokmap/plugin-sdk';
import pino from 'pino';

/**
 * In-memory contexts for the trials of one pack, as a worker gives them:
 * each trial its own id, reports and checkpoint store (starting from
 * `initial[i]` when given), all of them one abort signal.
 * Test support only; not exported from the package.
 */
export function createTestPack(
  trials: { trialId: string; params: unknown; initialCheckpoint?: Checkpoint | undefined }[],
  options: { attempt?: number; threshold?: number } = {},
): {
  trials: PackedTrial<unknown>[];
  contexts: TestContext[];
  pack: PackContext;
  abort(reason?: string): void;
} {
  const controller = new AbortController();
  const abort = (reason?: string) => controller.abort(reason ?? 'aborted by test');
  const threshold = options.threshold ?? 0.99;
  const contexts = trials.map(({ trialId, initialCheckpoint }) => {
    const ctx = createTestContext({
      trialId,
      threshold,
      ...(options.attempt !== undefined ? { attempt: options.attempt } : {}),
      ...(initialCheckpoint ? { initialCheckpoint } : {}),
    });
    ctx.signal = controller.signal;
    ctx.abort = abort;
    return ctx;
  });
  return {
    trials: trials.map((t, i) => ({ params: t.params, ctx: contexts[i]! })),
    contexts,
    pack: {
      signal: controller.signal,
      logger: pino({ level: 'silent' }),
      device: { kind: 'cpu' },
      threshold,
    },
    abort,
  };
}
