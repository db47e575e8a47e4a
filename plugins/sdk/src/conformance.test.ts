import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { expectConformance, runConformance } from './conformance.js';
import { CurveRecorder } from './curve-recorder.js';
import { type AnyTrainer, defineTrainer, type TrainerContext, type TrainerDefinition } from './trainer.js';

const params = z.strictObject({ steps: z.number().int().positive().default(50) });

/** A small trainer that keeps the contract: reports each step, stops on abort, returns a valid outcome. */
async function wellBehaved(p: { steps: number }, ctx: TrainerContext) {
  const rec = new CurveRecorder(ctx.threshold);
  for (let step = 0; step <= p.steps; step++) {
    if (ctx.signal.aborted) return rec.outcome({ status: 'cancelled', maxSteps: p.steps });
    const acc = step / p.steps;
    rec.record({ step, trainAcc: acc, valAcc: acc * acc });
    ctx.report({ step, trainAcc: acc, valAcc: acc * acc });
    await new Promise((r) => setImmediate(r));
  }
  return rec.outcome({ status: 'completed', maxSteps: p.steps });
}

/** A trainer of the `steps` schema above with its own train function. */
const trainerWith = (name: string, train: TrainerDefinition<typeof params>['train']) =>
  defineTrainer({ name, version: '1.0.0', params, train });

const good = trainerWith('good', wellBehaved);

const failing = (report: Awaited<ReturnType<typeof runConformance>>) =>
  report.checks.filter((c) => !c.ok).map((c) => c.name);

describe('conformance kit', () => {
  it('passes a trainer that keeps the contract', async () => {
    const report = await expectConformance(good, { params: { steps: 20 } });
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toContain('honours abort');
  });

  it('flags a trainer that never reports, ignores abort, returns a bad outcome and has a loose schema', async () => {
    const broken = defineTrainer({
      name: 'broken',
      version: '0.0.1',
      params: z.object({ steps: z.number().default(5) }),
      async train() {
        return {
          status: 'completed',
          steps: 10,
          maxSteps: 5,
          firstStepAtThreshold: { train: null, val: null },
          final: { trainAcc: 2, valAcc: 0 },
          curves: [],
        } as never;
      },
    });
    const report = await runConformance(broken, { params: {} });
    expect(report.ok).toBe(false);
    expect(failing(report).sort()).toEqual(
      [
        'honours abort',
        'outcome consistent',
        'outcome valid',
        'progress reported',
        'rejects wrong params',
      ].sort(),
    );
    expect(report.checks.find((c) => c.name === 'outcome valid')!.detail).toMatch(/final\.trainAcc/);
  });

  it('flags a trainer that throws when aborted', async () => {
    const throwsOnAbort = trainerWith('throws-on-abort', async (p, ctx) => {
      const outcome = await wellBehaved(p, ctx);
      if (outcome.status === 'cancelled') throw new Error('aborted!');
      return outcome;
    });
    const report = await runConformance(throwsOnAbort, { params: { steps: 10 } });
    expect(failing(report)).toEqual(['honours abort']);
    expect(report.checks.find((c) => c.name === 'honours abort')!.detail).toMatch(/threw.*aborted!/);
  });

  it('flags a trainer that keeps running after abort, and steps that go backwards', async () => {
    const stubborn = trainerWith('stubborn', async (p, ctx) => {
      const rec = new CurveRecorder(ctx.threshold);
      for (const step of [0, 2, 1]) ctx.report({ step });
      // Ignores ctx.signal and waits far longer than the kit's timeout.
      if (ctx.signal.aborted) await new Promise((r) => setTimeout(r, 2_000));
      rec.record({ step: p.steps, trainAcc: 1, valAcc: 1 });
      return rec.outcome({ status: 'completed', maxSteps: p.steps });
    });
    const report = await runConformance(stubborn, { params: {}, timeoutMs: 200 });
    expect(failing(report).sort()).toEqual(['honours abort', 'progress reported']);
    expect(report.checks.find((c) => c.name === 'honours abort')!.detail).toMatch(/still running/);
  });

  it('checks resuming when the trainer checkpoints, and flags a trainer that restarts instead', async () => {
    const restarts = trainerWith('restarts', async (p, ctx) => {
      await ctx.checkpoint.save(1, new Uint8Array([1]));
      return wellBehaved(p, ctx);
    });
    const report = await runConformance(restarts, { params: { steps: 10 } });
    expect(failing(report)).toEqual(['resumes from checkpoint']);
    expect(report.checks.find((c) => c.name === 'resumes from checkpoint')!.detail).toMatch(
      /reported step 0 again/,
    );

    const resumes = trainerWith('resumes', async (p, ctx) => {
      const from = await ctx.checkpoint.restore();
      const rec = new CurveRecorder(ctx.threshold);
      for (let step = from ? from.step + 1 : 0; step <= p.steps; step++) {
        if (ctx.signal.aborted) return rec.outcome({ status: 'cancelled', maxSteps: p.steps });
        rec.record({ step, trainAcc: 1, valAcc: 1 });
        ctx.report({ step });
        if (step === 3) await ctx.checkpoint.save(step, new Uint8Array([step]));
        await new Promise((r) => setImmediate(r));
      }
      return rec.outcome({ status: 'completed', maxSteps: p.steps });
    });
    const ok = await runConformance(resumes, { params: { steps: 10 } });
    expect(ok.checks.find((c) => c.name === 'resumes from checkpoint')).toMatchObject({ ok: true });
    expect(ok.ok).toBe(true);
  });

  it('flags parameters the schema refuses, and extra invalid parameters it accepts', async () => {
    const refused = await runConformance(good, { params: { steps: -1 } });
    expect(failing(refused)).toContain('params accepted');
    expect(refused.checks.find((c) => c.name === 'params accepted')!.detail).toMatch(/steps/);

    const lenient = await runConformance(good, { params: {}, invalidParams: [{ steps: 3 }] });
    expect(failing(lenient)).toEqual(['rejects wrong params']);
  });

  it('expectConformance throws listing every failure', async () => {
    const noisy = defineTrainer({
      name: 'no-progress',
      version: '',
      params,
      async train(p, ctx) {
        return new CurveRecorder(ctx.threshold).outcome({ status: 'completed', maxSteps: p.steps });
      },
    });
    const error = await expectConformance(noisy as AnyTrainer, { params: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/no-progress/);
    for (const name of ['definition', 'progress reported', 'honours abort'])
      expect(message).toContain(`- ${name}:`);
  });
});
