import { setImmediate as nextTick, setTimeout as sleep } from 'node:timers/promises';
import {
  type CurvePoint,
  CurveRecorder,
  curvePointSchema,
  isEvalStep,
  type TrainerContext,
  type TrialOutcome,
} from '@grokmap/plugin-sdk';
import { z } from 'zod';
import { modelAt, type RunShape, runShape, seedNoise } from './model.js';
import { normalAt } from './noise.js';
import type { SyntheticParams } from './params.js';

/** What a checkpoint holds: the last step done and the recorder's state (the curves are closed-form). */
const checkpointStateSchema = z.strictObject({
  version: z.literal(1),
  step: z.number().int().nonnegative(),
  recorder: z.strictObject({
    points: z.array(curvePointSchema),
    firstTrain: z.number().int().nonnegative().nullable(),
    firstVal: z.number().int().nonnegative().nullable(),
  }),
});
type CheckpointState = z.infer<typeof checkpointStateSchema>;

const BACKEND = 'analytic';

/**
 * Run the closed-form model: evaluate it at the SDK's evaluation schedule,
 * with per-seed noise, reporting each evaluation and checkpointing every
 * `checkpoint_every` steps. A resumed run continues from the checkpointed
 * step and ends with exactly the outcome of an uninterrupted run.
 */
export async function trainSynthetic(p: SyntheticParams, ctx: TrainerContext): Promise<TrialOutcome> {
  const noise = seedNoise(p);
  const shape = runShape(p, noise);
  const checkpointEvery = p.checkpoint_every ?? Math.max(1, Math.floor(p.max_steps / 10));
  const failAt = failureStep(p, ctx.attempt);

  let recorder = new CurveRecorder(ctx.threshold);
  let start = 0;
  let resumedFrom: number | undefined;
  const saved = await ctx.checkpoint.restore();
  if (saved) {
    const state = decodeCheckpoint(saved.data, p.max_steps);
    recorder = CurveRecorder.fromJSON(ctx.threshold, state.recorder);
    start = state.step + 1;
    resumedFrom = state.step;
    ctx.logger.info({ step: state.step, attempt: ctx.attempt }, 'synthetic trainer resuming from checkpoint');
  }
  const finish = (status: TrialOutcome['status'], reason?: string): TrialOutcome =>
    recorder.outcome({
      status,
      maxSteps: p.max_steps,
      backend: BACKEND,
      ...(reason !== undefined ? { reason } : {}),
      ...(resumedFrom !== undefined ? { extra: { resumed_from: resumedFrom } } : {}),
    });

  for (let step = start; step <= p.max_steps; step++) {
    if (ctx.signal.aborted) return finish('cancelled', abortReason(ctx.signal));
    if (step === failAt && p.fail !== undefined) {
      ctx.logger.warn({ step, hook: p.fail }, 'synthetic trainer: test-only failure hook fires');
      if (p.fail === 'throw')
        throw new Error(`synthetic trainer: injected failure at step ${step} (fail: throw)`);
      if (p.fail === 'nan') {
        const point = { ...observe(shape, step, noise.key), trainLoss: Number.NaN, valLoss: Number.NaN };
        recorder.record(point);
        ctx.report(point);
        return finish('diverged', `training loss is NaN at step ${step}`);
      }
      if (p.fail === 'hang') {
        await untilAborted(ctx.signal);
        return finish('cancelled', abortReason(ctx.signal));
      }
      if (p.fail === 'segfault') {
        // A real SIGSEGV, as from a crashing native extension; the wait covers its delivery.
        process.kill(process.pid, 'SIGSEGV');
        await untilAborted(ctx.signal);
        return finish('cancelled', abortReason(ctx.signal));
      }
      await exhaustMemory(ctx.signal);
      return finish('cancelled', abortReason(ctx.signal));
    }
    if (isEvalStep(step, p.eval_every, p.max_steps)) {
      const point = observe(shape, step, noise.key);
      recorder.record(point);
      ctx.report(point);
      // Let the host act between evaluations: a real delay when asked for, else one turn of the event loop.
      if (p.step_delay_ms > 0) await sleep(p.step_delay_ms, undefined, { signal: ctx.signal }).catch(ignore);
      else await nextTick();
    }
    if (step > 0 && step < p.max_steps && step % checkpointEvery === 0) {
      await ctx.checkpoint.save(step, encodeCheckpoint({ version: 1, step, recorder: recorder.toJSON() }));
    }
  }
  return finish('completed');
}

/**
 * One evaluation as the trainer sees it: the model's value plus sampling
 * noise of an accuracy measured on the finite train / validation sets
 * (binomial standard deviation), and a little noise on the losses.
 */
export function observe(shape: RunShape, step: number, key: number): CurvePoint {
  const m = modelAt(shape, step);
  const measured = (acc: number, n: number, channel: number) =>
    clamp01(acc + Math.sqrt((acc * (1 - acc)) / n) * normalAt(key, step + 1, channel));
  return {
    step,
    trainAcc: measured(m.trainAcc, shape.trainExamples, 1),
    valAcc: measured(m.valAcc, shape.valExamples, 2),
    trainLoss: m.trainLoss * (1 + 0.02 * normalAt(key, step + 1, 3)),
    valLoss: m.valLoss * (1 + 0.02 * normalAt(key, step + 1, 4)),
    weightNorm: m.weightNorm,
  };
}

/** The step at which the test-only failure hook fires on this attempt, if it does. */
function failureStep(p: SyntheticParams, attempt: number): number | undefined {
  if (p.fail === undefined || p.fail === 'none') return undefined;
  if (p.fail_attempts !== undefined && attempt > p.fail_attempts) return undefined;
  return p.fail_at_step ?? Math.max(1, Math.floor(p.max_steps / 2));
}

function encodeCheckpoint(state: CheckpointState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

function decodeCheckpoint(data: Uint8Array, maxSteps: number): CheckpointState {
  const state = checkpointStateSchema.parse(JSON.parse(new TextDecoder().decode(data)));
  if (state.step > maxSteps) {
    throw new Error(`synthetic checkpoint is at step ${state.step}, beyond max_steps ${maxSteps}`);
  }
  return state;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    // The interval keeps the process alive the way a stuck native call would.
    const keepAlive = setInterval(() => {}, 60_000);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(keepAlive);
        resolve();
      },
      { once: true },
    );
  });
}

/** Allocate on the JS heap until the process dies (V8's heap limit or the OS); stops only on abort. */
async function exhaustMemory(signal: AbortSignal): Promise<void> {
  const hog: number[][] = [];
  while (!signal.aborted) {
    for (let i = 0; i < 8; i++) hog.push(new Array<number>(1 << 20).fill(hog.length + 0.5));
    await nextTick();
  }
  hog.length = 0;
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === 'string') return r;
  if (r instanceof Error) return r.message;
  return 'aborted';
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));
const ignore = (): void => {};
