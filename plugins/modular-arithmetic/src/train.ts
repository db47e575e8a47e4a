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

/**
 * Everything that evolves during a run; all of it goes into a checkpoint.
 * The optimizer state and a master copy of the weights live in JS typed
 * arrays: AdamW is one fused pass per weight there, instead of ~15 small
 * backend kernels each, and checkpoints need no device reads.
 */
interface TrainState {
  step: number;
  /** Master weights, updated in place. */
  w: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
  ema: Float32Array[] | null;
  /** The weights as backend tensors, rebuilt from `w` after every update. */
  weights: tf.Tensor[];
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

function toTensors(model: Model, arrays: Float32Array[]): tf.Tensor[] {
  // Copy: some backends keep the array they are given.
  return arrays.map((a, i) => tf.tensor(a.slice(), model.specs[i]!.shape, 'float32'));
}

function newState(
  model: Model,
  w: Float32Array[],
  rest: Partial<Pick<TrainState, 'm' | 'v' | 'ema'>> & {
    grokfast: boolean;
    batchRng: Rng;
    threshold: number;
  },
): TrainState {
  const zeros = () => w.map((a) => new Float32Array(a.length));
  return {
    step: 0,
    w,
    m: rest.m ?? zeros(),
    v: rest.v ?? zeros(),
    ema: rest.grokfast ? (rest.ema ?? zeros()) : null,
    weights: toTensors(model, w),
    batchRng: rest.batchRng,
    perm: null,
    cursor: 0,
    streakStart: null,
    recorder: new CurveRecorder(rest.threshold),
  };
}

function freshState(model: Model, params: ModularArithmeticParams, threshold: number): TrainState {
  const w = initWeights(model.specs, Rng.seeded(params.seed, 'init'), params.init_scale);
  return newState(model, w, {
    grokfast: params.grokfast !== null,
    batchRng: Rng.seeded(params.seed, 'batches'),
    threshold,
  });
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
  const sizes = model.specs.map((sp) => sp.shape.reduce((x, y) => x * y, 1));
  for (const list of [groups.weights, groups.m, groups.v, ...(wantEma ? [groups.ema] : [])]) {
    if (list.some((a, i) => a.length !== sizes[i])) return 'checkpoint has weights of other shapes';
  }
  const state = newState(model, groups.weights, {
    m: groups.m,
    v: groups.v,
    ema: groups.ema,
    grokfast: wantEma,
    batchRng: Rng.fromState(header.rng),
    threshold,
  });
  state.step = header.step;
  state.perm = header.perm ? Int32Array.from(header.perm) : null;
  state.cursor = header.cursor;
  state.streakStart = header.streakStart;
  state.recorder = CurveRecorder.fromJSON(threshold, header.recorder);
  return state;
}

function encodeState(state: TrainState, params: ModularArithmeticParams): Uint8Array {
  const groups: Array<['weights' | 'm' | 'v' | 'ema', Float32Array[]]> = [
    ['weights', state.w],
    ['m', state.m],
    ['v', state.v],
  ];
  if (state.ema) groups.push(['ema', state.ema]);
  const arrays: CheckpointHeader['arrays'] = [];
  const data: Float32Array[] = [];
  for (const [group, list] of groups) {
    list.forEach((a) => {
      arrays.push({ group, shape: [a.length] });
      data.push(a);
    });
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
  tf.dispose(state.weights);
}

/** Linear warm-up from lr/warmup to lr over the first warmup_steps updates. */
export function learningRate(params: ModularArithmeticParams, step: number): number {
  return params.warmup_steps > 0 ? params.lr * Math.min(1, step / params.warmup_steps) : params.lr;
}

/**
 * AdamW (decoupled weight decay, as in PyTorch) on one weight, in place,
 * after the optional Grokfast-EMA filter g ← g + λ·EMA_α(g). Returns false
 * when an updated weight is not finite.
 */
function adamw(
  w: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  ema: Float32Array | null,
  h: {
    lr: number;
    b1: number;
    b2: number;
    wd: number;
    bc1: number;
    bc2: number;
    alpha: number;
    lambda: number;
  },
): boolean {
  const { lr, b1, b2, bc1, bc2, alpha, lambda } = h;
  const decay = 1 - lr * h.wd;
  // Constants folded out of the loop: one division per element instead of three.
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const ca = 1 - alpha;
  const step = lr / bc1;
  const unbias2 = 1 / bc2;
  // x · 0 is NaN exactly when x is ±∞ or NaN: a branch-free finiteness check.
  let poison = 0;
  for (let k = 0; k < w.length; k++) {
    let gk = g[k]!;
    if (ema) {
      const e = alpha * ema[k]! + ca * gk;
      ema[k] = e;
      gk += lambda * e;
    }
    const mk = b1 * m[k]! + c1 * gk;
    const vk = b2 * v[k]! + c2 * gk * gk;
    m[k] = mk;
    v[k] = vk;
    const wk = Math.fround(w[k]! * decay - (step * mk) / (Math.sqrt(vk * unbias2) + EPS));
    w[k] = wk;
    poison += wk * 0;
  }
  return poison === 0;
}

/**
 * One optimizer update (step t ≥ 1): gradients on the backend, then AdamW
 * (with the optional Grokfast filter) in JS. Returns the loss before the
 * update, or NaN when the update left a weight non-finite: the loss itself
 * can stay finite after a blow-up, because the wasm ReLU maps NaN to 0 on
 * large tensors and the layers after it then see zeros.
 */
function update(
  model: Model,
  state: TrainState,
  batch: Batch,
  params: ModularArithmeticParams,
  t: number,
): number {
  let loss = Number.NaN;
  let grads: Float32Array[] = [];
  // Typed arrays are assigned, not returned: tf.tidy walks a returned value element by element.
  tf.tidy(() => {
    const result = model.lossAndGrads(state.weights, batch);
    loss = result.loss;
    grads = result.grads.map((g) => g.dataSync() as Float32Array);
  });
  const hyper = {
    lr: learningRate(params, t),
    b1: params.beta1,
    b2: params.beta2,
    wd: params.weight_decay,
    bc1: 1 - params.beta1 ** t,
    bc2: 1 - params.beta2 ** t,
    alpha: params.grokfast?.alpha ?? 0,
    lambda: params.grokfast?.lambda ?? 0,
  };
  let finite = true;
  state.w.forEach((w, i) => {
    finite = adamw(w, state.m[i]!, state.v[i]!, grads[i]!, state.ema?.[i] ?? null, hyper) && finite;
  });
  tf.dispose(state.weights);
  state.weights = toTensors(model, state.w);
  return finite ? loss : Number.NaN;
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

function weightNorm(arrays: Float32Array[]): number {
  let sum = 0;
  for (const a of arrays) for (let k = 0; k < a.length; k++) sum += a[k]! * a[k]!;
  return Math.sqrt(sum);
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

/**
 * A bare training loop for benchmarks: the trainer's own full-batch update on
 * fresh weights, without evaluation, checkpoints or reporting.
 */
export async function createStepper(
  input: ModularArithmeticParams,
): Promise<{ backend: string; examples: number; step(): number; dispose(): void }> {
  const params = { ...input, grokfast: input.grokfast ?? null };
  const lease = await acquireBackend(params.backend, { kind: 'cpu' });
  const model = makeModel(params);
  const data = makeDataset(params.p, params.operation, params.data_fraction, params.seed);
  const batch = makeBatch(data.train, params.p);
  const state = freshState(model, params, 0.99);
  return {
    backend: lease.name,
    examples: data.train.length,
    step: () => {
      state.step++;
      return update(model, state, batch, params, state.step);
    },
    dispose: () => {
      disposeState(state);
      batch.dispose();
      lease.release();
    },
  };
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
        weightNorm: weightNorm(st.w),
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
