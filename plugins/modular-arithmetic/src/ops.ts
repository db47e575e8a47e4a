import * as tf from '@tensorflow/tfjs-core';

/**
 * Primitives for hand-written forward and backward passes.
 *
 * tfjs-core's own gradients are not used: its Node entry point registers
 * none, and on the wasm backend autograd would be slow anyway: only a 2-D
 * matMul without transpose flags reaches XNNPACK (transpose flags fall back
 * to a scalar loop), and GatherV2 on wasm is slower than a JS copy. So every
 * product is a plain 2-D `tf.matMul` with explicit `tf.transpose`, and row
 * lookups (embeddings) and their scatter-add gradients run in JS on typed arrays.
 */

const size = (t: tf.Tensor): number => t.size;

export const mm = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.matMul(a, b);

/** aᵀ · b, transposing whichever side moves fewer elements: aᵀb = (bᵀa)ᵀ. */
export function mmTA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const resultSize = a.shape[1] * b.shape[1];
  if (size(a) <= size(b) + resultSize) return tf.matMul(tf.transpose(a), b);
  return tf.transpose(tf.matMul(tf.transpose(b), a)) as tf.Tensor2D;
}

/** a · bᵀ, transposing whichever side moves fewer elements: abᵀ = (baᵀ)ᵀ. */
export function mmTB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const resultSize = a.shape[0] * b.shape[0];
  if (size(b) <= size(a) + resultSize) return tf.matMul(a, tf.transpose(b));
  return tf.transpose(tf.matMul(b, tf.transpose(a))) as tf.Tensor2D;
}

/** Σₖ tableₖ[idxₖ[i]] for every row i: sums of embedding rows, as an N × width tensor. */
export function gatherSum(tables: tf.Tensor2D[], indices: Int32Array[]): tf.Tensor2D {
  const width = tables[0]!.shape[1];
  const n = indices[0]!.length;
  const out = new Float32Array(n * width);
  tables.forEach((table, k) => {
    const t = table.dataSync() as Float32Array;
    const idx = indices[k]!;
    if (k === 0) {
      for (let i = 0; i < n; i++) out.set(t.subarray(idx[i]! * width, idx[i]! * width + width), i * width);
    } else {
      for (let i = 0; i < n; i++) {
        const src = idx[i]! * width;
        const dst = i * width;
        for (let j = 0; j < width; j++) out[dst + j]! += t[src + j]!;
      }
    }
  });
  return tf.tensor2d(out, [n, width]);
}

/** Gradient of a row lookup: adds row i of `grad` into row idx[i] of a rows × width table. */
export function scatterAdd(grad: Float32Array, idx: Int32Array, rows: number, width: number): tf.Tensor2D {
  const out = new Float32Array(rows * width);
  for (let i = 0; i < idx.length; i++) {
    const dst = idx[i]! * width;
    const src = i * width;
    for (let j = 0; j < width; j++) out[dst + j]! += grad[src + j]!;
  }
  return tf.tensor2d(out, [rows, width]);
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
