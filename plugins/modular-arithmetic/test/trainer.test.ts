import { createTestContext, isEvalStep, trialOutcomeSchema } from '@grokmap/plugin-sdk';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import trainer from '../src/index.js';

const small = (extra: Record<string, unknown> = {}) =>
  trainer.params.parse({
    p: 11,
    model_size: 32,
    embed_dim: 8,
    lr: 3e-3,
    weight_decay: 0.5,
    max_steps: 120,
    eval_every: 10,
    early_stop_window: null,
    backend: 'wasm',
    ...extra,
  });

describe('modular-arithmetic trainer', () => {
  it('returns a valid outcome with curves, backend and weight norm', async () => {
    const ctx = createTestContext();
    const out = await trainer.train(small(), ctx);
    expect(() => trialOutcomeSchema.parse(out)).not.toThrow();
    expect(out.status).toBe('completed');
    expect(out.steps).toBe(120);
    expect(out.backend).toBe('wasm');
    expect(out.final.weightNorm).toBeGreaterThan(0);
    expect(out.curves[0]!.step).toBe(0);
    expect(ctx.reports.at(-1)!.step).toBe(120);
    // It learns: training accuracy rises well above chance (1/11).
    expect(out.final.trainAcc).toBeGreaterThan(0.5);
  });

  it('keeps the number of live tensors flat over many steps (no leaks)', async () => {
    const before = tf.memory().numTensors;
    for (const model of ['mlp', 'transformer'] as const) {
      const counts: number[] = [];
      const ctx = createTestContext({ onReport: () => counts.push(tf.memory().numTensors) });
      const extra = model === 'transformer' ? { model, model_size: 16, heads: 2, depth: 2 } : { depth: 2 };
      await trainer.train(small({ ...extra, max_steps: 150, grokfast: { alpha: 0.9, lambda: 1 } }), ctx);
      expect(counts.length).toBeGreaterThan(20);
      expect(new Set(counts.slice(1)).size).toBe(1);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('trains with minibatches and the transformer', async () => {
    const out = await trainer.train(
      small({ model: 'transformer', model_size: 16, heads: 2, batch_size: 32, max_steps: 60 }),
      createTestContext(),
    );
    expect(out.status).toBe('completed');
    expect(out.final.trainLoss).toBeLessThan(out.curves[0]!.trainLoss!);
  });

  it('returns cancelled when the signal aborts', async () => {
    const ctx = createTestContext({ onReport: (r, c) => r.step >= 20 && c.abort('test cancel') });
    const out = await trainer.train(small({ max_steps: 10_000 }), ctx);
    expect(out.status).toBe('cancelled');
    expect(out.steps).toBeGreaterThanOrEqual(20);
    expect(out.steps).toBeLessThan(10_000);
  });

  it('reports a non-finite loss as diverged, not as a thrown error', async () => {
    const out = await trainer.train(small({ init_scale: 1e25 }), createTestContext());
    expect(out.status).toBe('diverged');
    expect(out.reason).toMatch(/loss/);
  });

  it('stops early once train and val have held the threshold for the window', async () => {
    // Threshold 0: both hold from step 0, so the run ends at the first evaluation ≥ the window.
    const ctx = createTestContext({ threshold: 0 });
    const window = 37;
    const out = await trainer.train(small({ max_steps: 5000, early_stop_window: window }), ctx);
    expect(out.status).toBe('completed');
    let expected = window;
    while (!isEvalStep(expected, 10, 5000)) expected++;
    expect(out.steps).toBe(expected);
    const never = await trainer.train(
      small({ max_steps: 80, early_stop_window: null }),
      createTestContext({ threshold: 0 }),
    );
    expect(never.steps).toBe(80);
  });

  for (const extra of [
    {},
    { model: 'transformer', model_size: 16, heads: 2, batch_size: 24, grokfast: {} },
  ]) {
    it(`resumes from a checkpoint to the same final metrics as an uninterrupted run ${JSON.stringify(extra)}`, async () => {
      const params = small({ ...extra, max_steps: 90, checkpoint_every: 25 });
      const whole = await trainer.train(params, createTestContext());

      const first = createTestContext({ onReport: (r, c) => r.step >= 55 && c.abort('preempted') });
      const cut = await trainer.train(params, first);
      expect(cut.status).toBe('cancelled');
      const atStep50 = first.saved.find((c) => c.step === 50);
      expect(atStep50).toBeDefined();

      const second = createTestContext({ initialCheckpoint: atStep50!, attempt: 2 });
      const resumed = await trainer.train(params, second);
      expect(resumed.status).toBe('completed');
      expect(resumed.extra?.resumed_from).toBe(50);
      expect(resumed.final).toEqual(whole.final);
      expect(resumed.firstStepAtThreshold).toEqual(whole.firstStepAtThreshold);
      expect(resumed.curves).toEqual(whole.curves);
    });
  }

  it('starts afresh from a checkpoint of other parameters or unreadable bytes', async () => {
    const ctx = createTestContext();
    await trainer.train(small({ max_steps: 30, checkpoint_every: 20, seed: 1 }), ctx);
    const foreign = ctx.saved.find((c) => c.step === 20)!;
    expect(foreign).toBeDefined();
    for (const checkpoint of [foreign, { step: 20, data: new Uint8Array([1, 2, 3]) }]) {
      const out = await trainer.train(
        small({ max_steps: 30, seed: 2 }),
        createTestContext({ initialCheckpoint: checkpoint }),
      );
      expect(out.status).toBe('completed');
      expect(out.extra?.resumed_from).toBeNull();
      expect(out.curves[0]!.step).toBe(0);
    }
  });

  it('runs two trials at once in one process with the same results as one at a time', async () => {
    const pa = small({ seed: 1, max_steps: 60 });
    const pb = small({ seed: 2, max_steps: 60, model: 'transformer', model_size: 16, heads: 2 });
    const [ca, cb] = await Promise.all([
      trainer.train(pa, createTestContext()),
      trainer.train(pb, createTestContext()),
    ]);
    const sa = await trainer.train(pa, createTestContext());
    const sb = await trainer.train(pb, createTestContext());
    expect(ca.final).toEqual(sa.final);
    expect(cb.final).toEqual(sb.final);
    expect(ca.final).not.toEqual(cb.final);
  });
});
