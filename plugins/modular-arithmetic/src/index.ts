import { defineTrainer } from '@grokmap/plugin-sdk';
import { modularArithmeticParams } from './params.js';
import { trainModularArithmetic } from './train.js';

export { acquireBackend, type BackendName } from './backend.js';
export { answer, makeDataset } from './dataset.js';
export { isPrime, type ModularArithmeticParams, modularArithmeticParams } from './params.js';

/**
 * Grokking on modular arithmetic (Power et al. 2022): a + b, a − b, a · b,
 * a / b mod p with an MLP or a small transformer, trained in TensorFlow.js
 * (libtensorflow when installed, else WebAssembly, else plain JS).
 */
export default defineTrainer({
  name: 'modular-arithmetic',
  version: '0.1.0',
  description:
    'Modular arithmetic (a∘b mod p) with an MLP or transformer in TensorFlow.js; AdamW, Grokfast optional.',
  params: modularArithmeticParams,
  train: trainModularArithmetic,
});
