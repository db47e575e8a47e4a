import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireBackend } from '../src/backend.js';
import { makeDataset } from '../src/dataset.js';
import { initWeights, makeBatch, makeModel } from '../src/models.js';
import { modularArithmeticParams } from '../src/params.js';
import { Rng } from '../src/rng.js';

// The backward passes are hand-written; check each against central finite
// differences of the forward pass on small models.
beforeAll(async () => {
  await acquireBackend('wasm', { kind: 'cpu' });
});

const cases = [
  { model: 'mlp', embed_dim: 4, model_size: 6, depth: 2, activation: 'relu' },
  // Width a multiple of 4: the first layer runs in the SIMD ReLU kernels (rows.ts).
  { model: 'mlp', embed_dim: 4, model_size: 8, depth: 1, activation: 'relu' },
  { model: 'mlp', embed_dim: 0, model_size: 6, depth: 1, activation: 'quadratic' },
  { model: 'transformer', model_size: 8, heads: 2, depth: 1 },
  { model: 'transformer', model_size: 8, heads: 2, depth: 2 },
] as const;

describe('hand-written gradients', () => {
  for (const c of cases) {
    it(`match finite differences: ${JSON.stringify(c)}`, () => {
      const params = modularArithmeticParams.parse({ p: 5, data_fraction: 0.6, ...c });
      const model = makeModel(params);
      const weights = initWeights(model.specs, Rng.seeded(1, 'init'), 1).map((a, i) =>
        tf.tensor(a, model.specs[i]!.shape),
      );
      const data = makeDataset(5, 'a+b', 0.6, 3);
      const batch = makeBatch(data.train, 5);
      const lossAt = (w: tf.Tensor[]) => {
        let l = 0;
        tf.tidy(() => {
          l = model.lossAndGrads(w, batch).loss;
        });
        return l;
      };
      const grads = tf.tidy(() => model.lossAndGrads(weights, batch).grads);
      const rng = Rng.seeded(7, 'probe');
      const h = 1e-2;
      let checked = 0;
      weights.forEach((w, wi) => {
        const base = w.dataSync().slice() as Float32Array;
        const g = grads[wi]!.dataSync();
        expect(grads[wi]!.shape).toEqual(w.shape);
        for (let probe = 0; probe < 3; probe++) {
          const j = rng.int(base.length);
          const at = (delta: number) => {
            const x = base.slice();
            x[j]! += delta;
            const ws = weights.map((t, k) => (k === wi ? tf.tensor(x, t.shape) : t));
            const l = lossAt(ws);
            ws[wi]!.dispose();
            return l;
          };
          const numeric = (at(h) - at(-h)) / (2 * h);
          expect(Math.abs(numeric - g[j]!)).toBeLessThan(2e-3 + 0.05 * Math.abs(numeric));
          checked++;
        }
      });
      expect(checked).toBe(3 * weights.length);
      tf.dispose([...weights, ...grads]);
      batch.dispose();
    });
  }
});
