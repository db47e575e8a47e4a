import * as tf from '@tensorflow/tfjs-core';
import type { Examples } from './dataset.js';
import {
  gatherSum,
  mm,
  mmTA,
  mmTB,
  scatterAdd,
  softmaxCrossEntropy,
  squaredError,
  viewToTensor,
} from './ops.js';
import type { ModularArithmeticParams } from './params.js';
import type { Rng } from './rng.js';
import { SimdReluPair } from './rows.js';

/** Weight shapes and initial standard deviations, in a fixed order (the checkpoint order). */
export interface WeightSpec {
  name: string;
  shape: number[];
  std: number;
}

/** A batch of examples: operand indices in JS (for lookups) and targets as tensors. */
export interface Batch {
  size: number;
  a: Int32Array;
  b: Int32Array;
  /** Token ids of [a, b, =] per example, flattened (transformer). */
  tokens: Int32Array;
  /** Answers, in JS (loss) and as a tensor (accuracy). */
  y: Int32Array;
  labels: tf.Tensor1D;
  onehot: tf.Tensor2D;
  dispose(): void;
}

export interface Model {
  specs: WeightSpec[];
  /** Logits (N × p); forward only. Call inside tf.tidy. */
  logits(weights: tf.Tensor[], batch: Batch): tf.Tensor2D;
  /** Mean cross-entropy and its gradient for every weight (same order). Call inside tf.tidy. */
  lossAndGrads(weights: tf.Tensor[], batch: Batch): { loss: number; grads: tf.Tensor[] };
}

export function makeBatch(ex: Examples, p: number): Batch {
  const tokens = new Int32Array(ex.length * 3);
  for (let i = 0; i < ex.length; i++) {
    tokens[3 * i] = ex.a[i]!;
    tokens[3 * i + 1] = ex.b[i]!;
    tokens[3 * i + 2] = p;
  }
  const labels = tf.tensor1d(ex.y, 'int32');
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(labels, p), 'float32') as tf.Tensor2D);
  return {
    size: ex.length,
    a: ex.a,
    b: ex.b,
    tokens,
    y: ex.y,
    labels,
    onehot,
    dispose() {
      labels.dispose();
      onehot.dispose();
    },
  };
}

/** The training loss chosen by the parameters, with its gradient in the logits. */
function objective(params: ModularArithmeticParams, logits: tf.Tensor2D, batch: Batch) {
  return params.loss === 'mse' ? squaredError(logits, batch.onehot) : softmaxCrossEntropy(logits, batch.y);
}

/** Initial weights, N(0, (std · scale)²) from the seeded PRNG, in spec order. */
export function initWeights(specs: WeightSpec[], rng: Rng, scale: number): Float32Array[] {
  return specs.map((s) => {
    const size = s.shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(size);
    if (s.std > 0) for (let i = 0; i < size; i++) data[i] = rng.normal() * s.std * scale;
    return data;
  });
}

type Activation = ModularArithmeticParams['activation'];

const activate = (x: tf.Tensor2D, kind: Activation): tf.Tensor2D =>
  kind === 'relu' ? tf.relu(x) : tf.square(x);

/** d act(pre) given d act: ReLU passes where pre > 0, x² multiplies by 2·pre. */
const activationGrad = (dact: tf.Tensor2D, pre: tf.Tensor2D, kind: Activation): tf.Tensor2D =>
  kind === 'relu' ? tf.mul(dact, tf.step(pre)) : tf.mul(dact, tf.mul(pre, 2));

/**
 * MLP on a pair of tokens: embeddings E_a[a], E_b[b] concatenated, then
 * `depth` hidden layers of width model_size, then p logits; no biases.
 * Because the inputs are one-hot, the first layer's pre-activation is
 * (E_a·W1a)[a] + (E_b·W1b)[b] — the same function and gradients as
 * concat(E_a[a], E_b[b])·W1, with the N-row product replaced by a p-row one.
 * The row lookup and its scatter-add gradient run outside the backend
 * (ops.ts, SIMD in rows.ts): on wasm a one-hot matMul costs as much as a
 * hidden-layer product and GatherV2 more. Activations and their gradients are backend kernels (a JS
 * loop with a data-dependent branch per element mispredicts half the time).
 * With embed_dim 0 the one-hot pair feeds the hidden layer directly (Gromov 2023).
 */
export function mlp(params: ModularArithmeticParams): Model {
  const { p, model_size: h, embed_dim: e, depth, activation } = params;
  const specs: WeightSpec[] = [];
  if (e > 0) {
    specs.push({ name: 'embed_a', shape: [p, e], std: 1 });
    specs.push({ name: 'embed_b', shape: [p, e], std: 1 });
    specs.push({ name: 'w1_a', shape: [e, h], std: 1 / Math.sqrt(2 * e) });
    specs.push({ name: 'w1_b', shape: [e, h], std: 1 / Math.sqrt(2 * e) });
  } else {
    specs.push({ name: 'w1_a', shape: [p, h], std: 1 / Math.sqrt(2) });
    specs.push({ name: 'w1_b', shape: [p, h], std: 1 / Math.sqrt(2) });
  }
  for (let l = 1; l < depth; l++) specs.push({ name: `w${l + 1}`, shape: [h, h], std: 1 / Math.sqrt(h) });
  specs.push({ name: 'w_out', shape: [h, p], std: 1 / Math.sqrt(h) });
  const first = e > 0 ? 4 : 2;
  const reluPair = activation === 'relu' ? SimdReluPair.create(h) : null;

  /** With `transposeLast` and one hidden layer, also the SIMD pair's transposed activations (else null). */
  const forward = (w: tf.Tensor[], batch: Batch, transposeLast = false) => {
    let actT: tf.Tensor2D | null = null;
    const [pa, pb] =
      e > 0
        ? [mm(w[0] as tf.Tensor2D, w[2] as tf.Tensor2D), mm(w[1] as tf.Tensor2D, w[3] as tf.Tensor2D)]
        : [w[0] as tf.Tensor2D, w[1] as tf.Tensor2D];
    // pre[0] is null when the SIMD ReLU pair keeps the first layer's activations itself.
    const pre: Array<tf.Tensor2D | null> = [];
    const act: tf.Tensor2D[] = [];
    if (reluPair) {
      const out = reluPair.forward(
        pa.dataSync() as Float32Array,
        pb.dataSync() as Float32Array,
        batch.a,
        batch.b,
        h,
        transposeLast && depth === 1,
      );
      pre.push(null);
      act.push(viewToTensor(out.act, batch.size, h));
      if (out.actT) actT = viewToTensor(out.actT, h, batch.size);
    } else {
      pre.push(gatherSum([pa, pb], [batch.a, batch.b]));
      act.push(activate(pre[0]!, activation));
    }
    for (let l = 1; l < depth; l++) {
      pre.push(mm(act[l - 1]!, w[first + l - 1] as tf.Tensor2D));
      act.push(activate(pre[l]!, activation));
    }
    const logits = mm(act[depth - 1]!, w[first + depth - 1] as tf.Tensor2D);
    return { pre, act, actT, logits };
  };

  return {
    specs,
    logits: (w, batch) => forward(w, batch).logits,
    lossAndGrads(w, batch) {
      const { pre, act, actT, logits } = forward(w, batch, true);
      const { loss, dlogits } = objective(params, logits, batch);
      const grads: tf.Tensor[] = new Array(w.length);
      const wOut = w[first + depth - 1] as tf.Tensor2D;
      grads[first + depth - 1] = actT ? mm(actT, dlogits) : mmTA(act[depth - 1]!, dlogits);
      let dact = mmTB(dlogits, wOut);
      for (let l = depth - 1; l >= 1; l--) {
        const dpre = activationGrad(dact, pre[l]!, activation);
        grads[first + l - 1] = mmTA(act[l - 1]!, dpre);
        dact = mmTB(dpre, w[first + l - 1] as tf.Tensor2D);
      }
      const [dpa, dpb] = reluPair
        ? reluPair.backward(dact.dataSync() as Float32Array).map((g) => tf.tensor2d(g, [p, h]))
        : scatterAdd(
            activationGrad(dact, pre[0]!, activation).dataSync() as Float32Array,
            [batch.a, batch.b],
            p,
            h,
          );
      if (e > 0) {
        grads[0] = mmTB(dpa as tf.Tensor2D, w[2] as tf.Tensor2D);
        grads[1] = mmTB(dpb as tf.Tensor2D, w[3] as tf.Tensor2D);
        grads[2] = mmTA(w[0] as tf.Tensor2D, dpa as tf.Tensor2D);
        grads[3] = mmTA(w[1] as tf.Tensor2D, dpb as tf.Tensor2D);
      } else {
        grads[0] = dpa!;
        grads[1] = dpb!;
      }
      return { loss, grads };
    },
  };
}

interface LayerWeights {
  wq: tf.Tensor2D;
  wk: tf.Tensor2D;
  wv: tf.Tensor2D;
  wo: tf.Tensor2D;
  win: tf.Tensor2D;
  bin: tf.Tensor1D;
  wout: tf.Tensor2D;
  bout: tf.Tensor1D;
}
const LAYER_KEYS = ['wq', 'wk', 'wv', 'wo', 'win', 'bin', 'wout', 'bout'] as const;

/**
 * Decoder-only transformer in the style of Power et al. / Nanda et al.:
 * input [a, b, =], learned token and position embeddings, `depth` blocks of
 * causal multi-head attention and a ReLU MLP (4 × d_model), no LayerNorm,
 * answer read from the `=` position. The last block computes only the `=`
 * position (nothing reads the others). Attention over 3 positions uses
 * broadcast element-wise products (batched 3-D matMul is scalar on wasm);
 * every weight product is a 2-D matMul. Forward and backward are explicit.
 */
export function transformer(params: ModularArithmeticParams): Model {
  const { p, model_size: d, depth, heads: H } = params;
  const dh = d / H;
  const T = 3;
  const scale = 1 / Math.sqrt(dh);
  const specs: WeightSpec[] = [
    { name: 'embed', shape: [p + 1, d], std: 1 / Math.sqrt(d) },
    { name: 'pos', shape: [T, d], std: 1 / Math.sqrt(d) },
  ];
  for (let l = 0; l < depth; l++) {
    for (const m of ['q', 'k', 'v', 'o'])
      specs.push({ name: `l${l}_${m}`, shape: [d, d], std: 1 / Math.sqrt(d) });
    specs.push({ name: `l${l}_in`, shape: [d, 4 * d], std: 1 / Math.sqrt(d) });
    specs.push({ name: `l${l}_in_bias`, shape: [4 * d], std: 0 });
    specs.push({ name: `l${l}_out`, shape: [4 * d, d], std: 1 / Math.sqrt(4 * d) });
    specs.push({ name: `l${l}_out_bias`, shape: [d], std: 0 });
  }
  specs.push({ name: 'unembed', shape: [d, p], std: 1 / Math.sqrt(d) });

  // Additive causal mask [1, query, key, 1]: query t sees keys ≤ t.
  const causal = new Float32Array(T * T);
  for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) causal[q * T + k] = k <= q ? 0 : -1e9;

  const layerWeights = (w: tf.Tensor[], l: number): LayerWeights => {
    const base = 2 + 8 * l;
    return Object.fromEntries(LAYER_KEYS.map((k, i) => [k, w[base + i]])) as unknown as LayerWeights;
  };

  /** One block. xq: query rows [N·tq, d]; xf: all rows [N·T, d]. Returns out rows [N·tq, d] and a cache. */
  const block = (xq: tf.Tensor2D, xf: tf.Tensor2D, n: number, tq: number, lw: LayerWeights) => {
    const q = tf.reshape(mm(xq, lw.wq), [n, tq, 1, H, dh]);
    const k = tf.reshape(mm(xf, lw.wk), [n, 1, T, H, dh]);
    const v = tf.reshape(mm(xf, lw.wv), [n, 1, T, H, dh]);
    let s = tf.mul(tf.sum(tf.mul(q, k), 4), scale); // [N, tq, T, H]
    if (tq === T) s = tf.add(s, tf.tensor4d(causal, [1, T, T, 1]));
    const ex = tf.exp(tf.sub(s, tf.max(s, 2, true)));
    const attn = tf.div(ex, tf.sum(ex, 2, true)); // softmax over keys
    const a5 = tf.reshape(attn, [n, tq, T, H, 1]);
    const z = tf.reshape(tf.sum(tf.mul(a5, v), 2), [n * tq, d]) as tf.Tensor2D;
    const r = tf.add(xq, mm(z, lw.wo)) as tf.Tensor2D;
    const preIn = tf.add(mm(r, lw.win), lw.bin) as tf.Tensor2D;
    const hid = tf.relu(preIn);
    const out = tf.add(r, tf.add(mm(hid, lw.wout), lw.bout)) as tf.Tensor2D;
    return { out, cache: { xq, xf, q, k, v, a5, z, r, preIn, hid } };
  };

  type Cache = ReturnType<typeof block>['cache'];

  /** Gradients of one block given d out; returns d xq, d xf and the weight gradients in LAYER_KEYS order. */
  const blockBackward = (dout: tf.Tensor2D, c: Cache, n: number, tq: number, lw: LayerWeights) => {
    const dWout = mmTA(c.hid, dout);
    const dbout = tf.sum(dout, 0);
    const dpreIn = tf.mul(mmTB(dout, lw.wout), tf.step(c.preIn)) as tf.Tensor2D;
    const dWin = mmTA(c.r, dpreIn);
    const dbin = tf.sum(dpreIn, 0);
    const dr = tf.add(dout, mmTB(dpreIn, lw.win)) as tf.Tensor2D;
    const dWo = mmTA(c.z, dr);
    const dz5 = tf.reshape(mmTB(dr, lw.wo), [n, tq, 1, H, dh]);
    const da = tf.sum(tf.mul(dz5, c.v), 4, true); // [N, tq, T, H, 1]
    const dv = tf.reshape(tf.sum(tf.mul(c.a5, dz5), 1), [n * T, d]) as tf.Tensor2D;
    // Softmax backward over the key axis, then the 1/√dh scale.
    const ds = tf.mul(tf.mul(c.a5, tf.sub(da, tf.sum(tf.mul(da, c.a5), 2, true))), scale);
    const dq = tf.reshape(tf.sum(tf.mul(ds, c.k), 2), [n * tq, d]) as tf.Tensor2D;
    const dk = tf.reshape(tf.sum(tf.mul(ds, c.q), 1), [n * T, d]) as tf.Tensor2D;
    const dWq = mmTA(c.xq, dq);
    const dWk = mmTA(c.xf, dk);
    const dWv = mmTA(c.xf, dv);
    const dxq = tf.add(dr, mmTB(dq, lw.wq)) as tf.Tensor2D;
    const dxf = tf.add(mmTB(dk, lw.wk), mmTB(dv, lw.wv)) as tf.Tensor2D;
    return { dxq, dxf, grads: [dWq, dWk, dWv, dWo, dWin, dbin, dWout, dbout] };
  };

  const forward = (w: tf.Tensor[], batch: Batch) => {
    const n = batch.size;
    const tok = gatherSum([w[0] as tf.Tensor2D], [batch.tokens]);
    let x = tf.reshape(tf.add(tf.reshape(tok, [n, T, d]), tf.reshape(w[1]!, [1, T, d])), [
      n * T,
      d,
    ]) as tf.Tensor2D;
    const caches: Cache[] = [];
    for (let l = 0; l < depth; l++) {
      const last = l === depth - 1;
      const xq = last
        ? (tf.reshape(tf.slice(tf.reshape(x, [n, T, d]), [0, T - 1, 0], [n, 1, d]), [n, d]) as tf.Tensor2D)
        : x;
      const { out, cache } = block(xq, x, n, last ? 1 : T, layerWeights(w, l));
      caches.push(cache);
      x = out;
    }
    const logits = mm(x, w[w.length - 1] as tf.Tensor2D);
    return { x, caches, logits };
  };

  return {
    specs,
    logits: (w, batch) => forward(w, batch).logits,
    lossAndGrads(w, batch) {
      const n = batch.size;
      const { x, caches, logits } = forward(w, batch);
      const { loss, dlogits } = objective(params, logits, batch);
      const grads: tf.Tensor[] = new Array(w.length);
      grads[w.length - 1] = mmTA(x, dlogits);
      let dout = mmTB(dlogits, w[w.length - 1] as tf.Tensor2D);
      let dx: tf.Tensor2D | null = null;
      for (let l = depth - 1; l >= 0; l--) {
        const last = l === depth - 1;
        const tq = last ? 1 : T;
        const g = blockBackward(dout, caches[l]!, n, tq, layerWeights(w, l));
        g.grads.forEach((gi, i) => {
          grads[2 + 8 * l + i] = gi;
        });
        if (last) {
          // xq was position T−1 of xf: add its gradient there.
          const dxf3 = tf.reshape(g.dxf, [n, T, d]);
          const head = tf.slice(dxf3, [0, 0, 0], [n, T - 1, d]);
          const tail = tf.add(tf.slice(dxf3, [0, T - 1, 0], [n, 1, d]), tf.reshape(g.dxq, [n, 1, d]));
          dx = tf.reshape(tf.concat([head, tail], 1), [n * T, d]) as tf.Tensor2D;
        } else {
          dx = tf.add(g.dxq, g.dxf) as tf.Tensor2D;
        }
        dout = dx;
      }
      const dx0 = dx!;
      grads[1] = tf.sum(tf.reshape(dx0, [n, T, d]), 0);
      grads[0] = scatterAdd(dx0.dataSync() as Float32Array, [batch.tokens], p + 1, d)[0]!;
      return { loss, grads };
    },
  };
}

export function makeModel(params: ModularArithmeticParams): Model {
  return params.model === 'mlp' ? mlp(params) : transformer(params);
}
