import { CurveRecorder, isEvalStep, type TrainerContext, type TrialOutcome } from '@grokmap/plugin-sdk';
import * as tf from '@tensorflow/tfjs-core';
import { acquireBackend } from './backend.js';
import { type CheckpointHeader, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { type Examples, makeDataset, slice, subset } from './dataset.js';
import { type Batch, initWeights, type Model, makeBatch, makeModel } from './models.js';
import { lossAndHits } from './ops.js';
import type { ModularArithmeticParams } from './params.js';
import { Rng } from './rng.js';

const EPS = 1e-8;

/** Everything that evolves during a run; all of it goes into a checkpoint. */
interface TrainState {
  step: number;
  weights: tf.Tensor[];
  m: tf.Tensor[];
  v: tf.Tensor[];
  ema: tf.Tensor[] | null;
  batchRng: Rng;
  perm: Int32Array | null;
  cursor: number;
  /** First evaluated step of the current run of evaluations with train and val ≥ threshold. */
  streakStart: number | null;
  recorder: CurveRecorder;
}

/** Parameters that change the trajectory; a checkpoint from other values is ignored. */
function fingerprint(params: ModularArithmeticParams): string {
  const { max_steps, checkpoint_every, eval_chunk, backend, early_stop_window, eval_every, ...rest } = params;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

function freshState(model: Model, params: ModularArithmeticParams, threshold: number): TrainState {
  const weights = initWeights(model.specs, Rng.seeded(params.seed, 'init'), params.init_scale);
  const zeros = () => weights.map((w) => tf.zerosLike(w));
  return {
    step: 0,
    weights,
    m: zeros(),
    v: zeros(),
    ema: params.grokfast ? zeros() : null,
    batchRng: Rng.seeded(params.seed, 'batches'),
    perm: null,
    cursor: 0,
    streakStart: null,
    recorder: new CurveRecorder(threshold),
  };
}

function restoreState(
  bytes: Uint8Array,
  model: Model,
  params: ModularArithmeticParams,
  threshold: number,
): TrainState | string {
  let decoded: ReturnType<typeof decodeCheckpoint>;
  try {
    decoded = decodeCheckpoint(bytes);
  } catch (err) {
    return `unreadable checkpoint: ${(err as Error).message}`;
  }
  const { header, groups } = decoded;
  if (header.fingerprint !== fingerprint(params)) return 'checkpoint belongs to different parameters';
  const n = model.specs.length;
  const wantEma = params.grokfast !== null;
  if (groups.weights.length !== n || groups.m.length !== n || groups.v.length !== n) {
    return 'checkpoint has a different number of weights';
  }
  if (wantEma !== (groups.ema.length === n)) return 'checkpoint disagrees on Grokfast state';
  const tensors = (arrs: Float32Array[]) =>
    arrs.map((a, i) => tf.tensor(a, model.specs[i]!.shape, 'float32'));
  return {
    step: header.step,
    weights: tensors(groups.weights),
    m: tensors(groups.m),
    v: tensors(groups.v),
    ema: wantEma ? tensors(groups.ema) : null,
    batchRng: Rng.fromState(header.rng),
    perm: header.perm ? Int32Array.from(header.perm) : null,
    cursor: header.cursor,
    streakStart: header.streakStart,
    recorder: CurveRecorder.fromJSON(threshold, header.recorder),
  };
}

function encodeState(state: TrainState, params: ModularArithmeticParams): Uint8Array {
  const groups: Array<['weights' | 'm' | 'v' | 'ema', tf.Tensor[]]> = [
    ['weights', state.weights],
    ['m', state.m],
    ['v', state.v],
  ];
  if (state.ema) groups.push(['ema', state.ema]);
  const arrays: CheckpointHeader['arrays'] = [];
  const data: Float32Array[] = [];
  for (const [group, ts] of groups) {
    for (const t of ts) {
      arrays.push({ group, shape: t.shape });
      data.push(t.dataSync() as Float32Array);
    }
  }
  const header: CheckpointHeader = {
    fingerprint: fingerprint(params),
    step: state.step,
    rng: state.batchRng.state(),
    perm: state.perm ? Array.from(state.perm) : null,
    cursor: state.cursor,
    streakStart: state.streakStart,
    recorder: state.recorder.toJSON(),
    arrays,
  };
  return encodeCheckpoint(header, data);
}

function disposeState(state: TrainState): void {
  tf.dispose([...state.weights, ...state.m, ...state.v, ...(state.ema ?? [])]);
}

/** Linear warm-up from lr/warmup to lr over the first warmup_steps updates. */
export function learningRate(params: ModularArithmeticParams, step: number): number {
  return params.warmup_steps > 0 ? params.lr * Math.min(1, step / params.warmup_steps) : params.lr;
}

/**
 * One optimizer update (step t ≥ 1): gradients, optional Grokfast-EMA
 * filter, AdamW with decoupled weight decay. Replaces the state's tensors and
 * returns the loss before the update.
 */
function update(
  model: Model,
  state: TrainState,
  batch: Batch,
  params: ModularArithmeticParams,
  t: number,
): number {
  const lr = learningRate(params, t);
  const { beta1: b1, beta2: b2, weight_decay: wd, grokfast } = params;
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  let loss = Number.NaN;
  const next = tf.tidy(() => {
    const result = model.lossAndGrads(state.weights, batch);
    loss = result.loss;
    const grads = result.grads;
    let g = grads;
    let ema: tf.Tensor[] = [];
    if (grokfast && state.ema) {
      ema = state.ema.map((e, i) => tf.add(tf.mul(e, grokfast.alpha), tf.mul(g[i]!, 1 - grokfast.alpha)));
      g = g.map((gi, i) => tf.add(gi, tf.mul(ema[i]!, grokfast.lambda)));
    }
    const m = state.m.map((mi, i) => tf.add(tf.mul(mi, b1), tf.mul(g[i]!, 1 - b1)));
    const v = state.v.map((vi, i) => tf.add(tf.mul(vi, b2), tf.mul(tf.square(g[i]!), 1 - b2)));
    const weights = state.weights.map((w, i) => {
      const decayed = wd > 0 ? tf.mul(w, 1 - lr * wd) : w;
      const stepDir = tf.div(tf.div(m[i]!, bc1), tf.add(tf.sqrt(tf.div(v[i]!, bc2)), EPS));
      return tf.sub(decayed, tf.mul(stepDir, lr));
    });
    return { weights, m, v, ema };
  });
  tf.dispose([...state.weights, ...state.m, ...state.v, ...(state.ema ?? [])]);
  state.weights = next.weights;
  state.m = next.m;
  state.v = next.v;
  state.ema = state.ema ? next.ema : null;
  return loss;
}

interface Split {
  batches: Batch[];
  size: number;
}

function evalBatches(ex: Examples, params: ModularArithmeticParams): Split {
  const batches: Batch[] = [];
  for (let s = 0; s < ex.length; s += params.eval_chunk) {
    batches.push(makeBatch(slice(ex, s, s + params.eval_chunk), params.p));
  }
  return { batches, size: ex.length };
}

function evaluate(model: Model, weights: tf.Tensor[], split: Split): { acc: number; loss: number } {
  let correct = 0;
  let lossSum = 0;
  for (const batch of split.batches) {
    const [l, c] = tf.tidy(() => lossAndHits(model.logits(weights, batch), batch.onehot, batch.labels));
    correct += (c!.dataSync() as Int32Array)[0]!;
    lossSum += (l!.dataSync() as Float32Array)[0]!;
    tf.dispose([c!, l!]);
  }
  return { acc: split.size > 0 ? correct / split.size : 0, loss: split.size > 0 ? lossSum / split.size : 0 };
}

function weightNorm(weights: tf.Tensor[]): number {
  const s = tf.tidy(() => tf.sqrt(tf.addN(weights.map((w) => tf.sum(tf.square(w))))));
  const n = (s.dataSync() as Float32Array)[0]!;
  s.dispose();
  return n;
}

function nextMinibatch(state: TrainState, train: Examples, size: number, p: number): Batch {
  if (!state.perm || state.cursor + size > state.perm.length) {
    state.perm = state.batchRng.shuffle(Int32Array.from(train.a.keys()));
    state.cursor = 0;
  }
  const idx = state.perm.subarray(state.cursor, state.cursor + size);
  state.cursor += size;
  return makeBatch(subset(train, idx), p);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Run one trial: train, evaluate on schedule, checkpoint, and return its outcome. */
export async function trainModularArithmetic(
  params: ModularArithmeticParams,
  ctx: TrainerContext,
): Promise<TrialOutcome> {
  const started = performance.now();
  const lease = await acquireBackend(params.backend, ctx.device);
  const log = ctx.logger.child({ trainer: 'modular-arithmetic', backend: lease.name });
  const model = makeModel(params);
  const data = makeDataset(params.p, params.operation, params.data_fraction, params.seed);
  const trainEval = evalBatches(data.train, params);
  const valEval = evalBatches(data.val, params);
  const minibatch =
    params.batch_size !== null && params.batch_size > 0 && params.batch_size < data.train.length;
  const fullBatch = minibatch ? null : makeBatch(data.train, params.p);

  let state: TrainState | null = null;
  let resumedFrom: number | null = null;
  try {
    const saved = await ctx.checkpoint.restore();
    if (saved) {
      const restored = restoreState(saved.data, model, params, ctx.threshold);
      if (typeof restored === 'string') log.warn({ step: saved.step }, `starting afresh: ${restored}`);
      else {
        state = restored;
        resumedFrom = restored.step;
        log.info({ step: restored.step }, 'resuming from checkpoint');
      }
    }
    state ??= freshState(model, params, ctx.threshold);
    const st = state;

    const paramCount = model.specs.reduce((n, s) => n + s.shape.reduce((x, y) => x * y, 1), 0);
    const finish = (status: TrialOutcome['status'], reason?: string): TrialOutcome =>
      st.recorder.outcome({
        status,
        maxSteps: params.max_steps,
        backend: lease.name,
        ...(reason !== undefined ? { reason } : {}),
        extra: {
          parameters: paramCount,
          train_examples: data.train.length,
          val_examples: data.val.length,
          wall_ms: Math.round(performance.now() - started),
          resumed_from: resumedFrom,
        },
      });

    const evalAndRecord = (): { stop: boolean } => {
      const tr = evaluate(model, st.weights, trainEval);
      const va = evaluate(model, st.weights, valEval);
      const point = {
        step: st.step,
        trainAcc: tr.acc,
        valAcc: va.acc,
        trainLoss: tr.loss,
        valLoss: va.loss,
        weightNorm: weightNorm(st.weights),
      };
      st.recorder.record(point);
      ctx.report(point);
      if (tr.acc >= ctx.threshold && va.acc >= ctx.threshold) st.streakStart ??= st.step;
      else st.streakStart = null;
      const window = params.early_stop_window;
      return { stop: window !== null && st.streakStart !== null && st.step - st.streakStart >= window };
    };

    const saveCheckpoint = async () => {
      try {
        await ctx.checkpoint.save(st.step, encodeState(st, params));
      } catch (err) {
        log.warn({ err, step: st.step }, 'checkpoint save failed; continuing');
      }
    };

    if (resumedFrom === null && evalAndRecord().stop) return finish('completed');
    while (st.step < params.max_steps) {
      if (ctx.signal.aborted) {
        await saveCheckpoint();
        return finish('cancelled', String(ctx.signal.reason ?? 'aborted'));
      }
      const t = st.step + 1;
      const batch = fullBatch ?? nextMinibatch(st, data.train, params.batch_size!, params.p);
      let loss: number;
      try {
        loss = update(model, st, batch, params, t);
      } finally {
        if (batch !== fullBatch) batch.dispose();
      }
      st.step = t;
      if (!Number.isFinite(loss)) {
        log.warn({ step: t, loss }, 'training loss is not finite');
        return finish('diverged', `training loss became ${loss} at step ${t}`);
      }
      if (isEvalStep(t, params.eval_every, params.max_steps)) {
        if (evalAndRecord().stop) {
          log.info({ step: t }, 'early stop: train and validation held the threshold');
          return finish('completed');
        }
      }
      if (params.checkpoint_every > 0 && t % params.checkpoint_every === 0 && t < params.max_steps) {
        await saveCheckpoint();
      }
      await yieldToEventLoop();
    }
    return finish('completed');
  } finally {
    if (state) disposeState(state);
    fullBatch?.dispose();
    for (const b of [...trainEval.batches, ...valEval.batches]) b.dispose();
    lease.release();
  }
}
