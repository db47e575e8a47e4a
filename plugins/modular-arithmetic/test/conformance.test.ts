import { expectConformance } from '@grokmap/plugin-sdk';
import { expect, it } from 'vitest';
import trainer from '../src/index.js';

it('passes the plugin conformance kit', async () => {
  const report = await expectConformance(trainer, {
    params: {
      p: 11,
      model_size: 32,
      embed_dim: 8,
      max_steps: 200,
      eval_every: 20,
      checkpoint_every: 50,
      backend: 'wasm',
    },
    invalidParams: [{ p: 12 }, { data_fraction: 1 }, { model_size: 0 }, { model: 'rnn' }],
    timeoutMs: 50_000,
  });
  expect(report.checks.every((c) => c.ok)).toBe(true);
});
