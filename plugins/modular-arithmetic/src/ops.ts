import * as tf from '@tensorflow/tfjs-core';
import { simdGather2, simdScatter2 } from './rows.js';

/**
 * Primitives for hand-written forward and backward passes.
 *
 * tfjs-core's own gradients are not used: its Node entry point registers
 * none, and on the wasm backend autograd would be slow anyway: only a 2-D
 * matMul without transpose flags reaches XNNPACK (transpose flags fall back
 * to a scalar loop), and GatherV2 on wasm is slower than a JS copy. So every
 * product is a plain 2-D `tf.matMul` with explicit `tf.transpose`, and row
 * lookups (embeddings) and their scatter-add gradients run on typed arrays
 * (the MLP's pair of lookups in SIMD WebAssembly, rows.ts).
 */

const size = (t: tf.Tensor): number => t.size;

/**
 * Relative cost per element of packing a matMul's right operand against
 * moving one in a transpose. XNNPACK treats the right operand as the weights
 * and repacks it on every call with a new tensor (measured: [97,4705]·[4705,512]
 * took 3× longer than [512,4705]·[4705,97] plus the transpose of the 4705 × 512 side).
 */
const PACK = 3;

export const mm = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.matMul(a, b);

/** aᵀ · b as transpose(a)·b (packs b) or (transpose(b)·a)ᵀ (packs a), whichever moves less. */
export function mmTA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const result = a.shape[1] * b.shape[1];
  if (size(a) + PACK * size(b) <= size(b) + PACK * size(a) + result) return tf.matMul(tf.transpose(a), b);
  return tf.transpose(tf.matMul(tf.transpose(b), a)) as tf.Tensor2D;
}

/** a · bᵀ as a·transpose(b) (packs bᵀ) or (b·transpose(a))ᵀ (packs aᵀ), whichever moves less. */
export function mmTB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const result = a.shape[0] * b.shape[0];
  if ((1 + PACK) * size(b) <= (1 + PACK) * size(a) + result) return tf.matMul(a, tf.transpose(b));
  return tf.transpose(tf.matMul(b, tf.transpose(a))) as tf.Tensor2D;
}

/** A tensor from a view into reused memory; copied unless the backend copies it itself (wasm does). */
export const viewToTensor = (view: Float32Array, rows: number, width: number): tf.Tensor2D =>
  tf.tensor2d(tf.getBackend() === 'wasm' ? view : view.slice(), [rows, width]);

/**
 * table₀[idx₀[i]] (+ table₁[idx₁[i]]) for every row i: an embedding lookup, or
 * the sum of two, as an N × width tensor, in one pass over the output.
 */
export function gatherSum(
  tables: [tf.Tensor2D] | [tf.Tensor2D, tf.Tensor2D],
  indices: Int32Array[],
): tf.Tensor2D {
  const width = tables[0].shape[1];
  const ia = indices[0]!;
  const n = ia.length;
  const ta = tables[0].dataSync() as Float32Array;
  const out = new Float32Array(n * width);
  if (tables.length === 1) {
    for (let i = 0; i < n; i++) out.set(ta.subarray(ia[i]! * width, ia[i]! * width + width), i * width);
  } else {
    const tb = tables[1].dataSync() as Float32Array;
    const ib = indices[1]!;
    const fast = simdGather2(ta, tb, ia, ib, width);
    if (fast) return viewToTensor(fast, n, width);
    for (let i = 0; i < n; i++) {
      const ra = ia[i]! * width;
      const rb = ib[i]! * width;
      const o = i * width;
      for (let j = 0; j < width; j++) out[o + j] = ta[ra + j]! + tb[rb + j]!;
    }
  }
  return tf.tensor2d(out, [n, width]);
}

/**
 * Gradient of gatherSum: adds row i of `grad` into row idx₀[i] of one
 * rows × width table (and row idx₁[i] of a second), in one pass over `grad`.
 * Straight-line inner loops: V8 does not hoist a loop over the tables.
 */
export function scatterAdd(
  grad: Float32Array,
  indices: Int32Array[],
  rows: number,
  width: number,
): tf.Tensor2D[] {
  const ia = indices[0]!;
  const ga = new Float32Array(rows * width);
  if (indices.length === 1) {
    for (let i = 0; i < ia.length; i++) {
      const ra = ia[i]! * width;
      const o = i * width;
      for (let j = 0; j < width; j++) ga[ra + j]! += grad[o + j]!;
    }
    return [tf.tensor2d(ga, [rows, width])];
  }
  const ib = indices[1]!;
  const fast = simdScatter2(grad, ia, ib, rows, width);
  if (fast) return fast.map((g) => tf.tensor2d(g, [rows, width]));
  const gb = new Float32Array(rows * width);
  for (let i = 0; i < ia.length; i++) {
    const ra = ia[i]! * width;
    const rb = ib[i]! * width;
    const o = i * width;
    for (let j = 0; j < width; j++) {
      const g = grad[o + j]!;
      ga[ra + j]! += g;
      gb[rb + j]! += g;
    }
  }
  return [tf.tensor2d(ga, [rows, width]), tf.tensor2d(gb, [rows, width])];
}

/**
 * Mean softmax cross-entropy against integer targets, and its gradient
 * (softmax − onehot) / N. The backend's fused softmax, then one JS pass over
 * the probabilities for both the loss and the gradient (cheaper on wasm than
 * broadcast element-wise kernels). The loss reads target probabilities floored
 * at 1e-38, so only a non-finite logit makes it non-finite.
 */
export function softmaxCrossEntropy(
  logits: tf.Tensor2D,
  labels: Int32Array,
): { loss: number; dlogits: tf.Tensor2D } {
  const [n, classes] = logits.shape;
  const sm = tf.softmax(logits);
  const probs = sm.dataSync() as Float32Array;
  sm.dispose();
  const grad = new Float32Array(probs.length);
  const inv = 1 / n;
  let sum = 0;
  for (let k = 0; k < probs.length; k++) grad[k] = probs[k]! * inv;
  for (let i = 0; i < n; i++) {
    const at = i * classes + labels[i]!;
    sum -= Math.log(Math.max(probs[at]!, 1e-38));
    grad[at]! -= inv;
  }
  return { loss: sum / n, dlogits: tf.tensor2d(grad, [n, classes]) };
}

/** Mean over examples of the squared error ‖logits − onehot‖², and its gradient 2(logits − onehot)/N. */
export function squaredError(
  logits: tf.Tensor2D,
  onehot: tf.Tensor2D,
): { loss: number; dlogits: tf.Tensor2D } {
  const n = logits.shape[0];
  const diff = tf.sub(logits, onehot);
  const d = diff.dataSync() as Float32Array;
  let sum = 0;
  for (let i = 0; i < d.length; i++) sum += d[i]! * d[i]!;
  return { loss: sum / n, dlogits: tf.mul(diff, 2 / n) as tf.Tensor2D };
}

/** Summed cross-entropy and number of correct argmax predictions (forward only). */
export function lossAndHits(
  logits: tf.Tensor2D,
  onehot: tf.Tensor2D,
  labels: tf.Tensor1D,
): [tf.Scalar, tf.Scalar] {
  const lossSum = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), onehot))) as tf.Scalar;
  const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')) as tf.Scalar;
  return [lossSum, hits];
}
