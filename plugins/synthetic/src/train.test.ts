import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type Checkpoint,
  createTestContext,
  expectConformance,
  isEvalStep,
  type TrialOutcome,
} from '@grokmap/plugin-sdk';
import { describe, expect, it, vi } from 'vitest';
import synthetic, { syntheticGroundTruth } from './index.js';

const params = (raw: Record<string, unknown> = {}) => synthetic.params.parse(raw);
const grokking = { weight_decay: 0.1, data_fraction: 0.7, model_size: 256 };

describe('synthetic trainer', () => {
  it('passes the conformance kit', async () => {
    const report = await expectConformance(synthetic, { params: { ...grokking, max_steps: 2000 } });
    expect(report.checks.length).toBeGreaterThan(0);
  });

  it('is deterministic per seed and differs between seeds', async () => {
    const run = (seed: number) => synthetic.train(params({ ...grokking, seed }), createTestContext());
    const [a, b, c] = await Promise.all([run(3), run(3), run(4)]);
    expect(a).toEqual(b);
    expect(a.curves).not.toEqual(c.curves);
  });

  it('reports every evaluation in step order and checkpoints every tenth of the budget', async () => {
    const ctx = createTestContext();
    const outcome = await synthetic.train(params({ ...grokking, max_steps: 5000 }), ctx);
    const steps = ctx.reports.map((r) => r.step);
    expect(steps).toEqual([...steps].sort((x, y) => x - y));
    expect(steps.at(-1)).toBe(5000);
    expect(ctx.saved.map((s) => s.step)).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500]);
    const state = JSON.parse(new TextDecoder().decode(ctx.saved[0]!.data)) as { step: number };
    expect(state.step).toBe(500);
    expect(outcome.steps).toBe(5000);
    expect(outcome.extra?.resumed_from).toBeUndefined();
  });

  it('produces grokking curves: train fits first, validation jumps later, validation loss rises then falls', async () => {
    const outcome = await synthetic.train(params(grokking), createTestContext());
    const { train, val } = outcome.firstStepAtThreshold;
    expect(train).not.toBeNull();
    expect(val! - train!).toBeGreaterThanOrEqual(1000);
    const atTrain = outcome.curves.find((p) => p.step >= train!)!;
    expect(atTrain.valAcc).toBeLessThan(0.5);
    const peakValLoss = Math.max(...outcome.curves.map((p) => p.valLoss!));
    expect(peakValLoss).toBeGreaterThan(outcome.curves[0]!.valLoss!);
    expect(outcome.final.valLoss!).toBeLessThan(peakValLoss / 10);
  });

  it('decays the weight norm faster with more weight decay', async () => {
    const norm = async (weight_decay: number) =>
      (await synthetic.train(params({ ...grokking, weight_decay }), createTestContext())).final.weightNorm!;
    expect(await norm(1)).toBeLessThan(await norm(0.1));
  });

  it('ends a resumed run exactly as an uninterrupted one, and says where it resumed', async () => {
    const p = params({ ...grokking, max_steps: 4000, checkpoint_every: 300 });
    const full = await synthetic.train(p, createTestContext());

    const first = createTestContext({
      onReport: (r, c) => {
        if (r.step >= 2000) c.abort('worker lost');
      },
    });
    const interrupted = await synthetic.train(p, first);
    expect(interrupted.status).toBe('cancelled');
    const checkpoint: Checkpoint = first.saved.at(-1)!;
    expect(checkpoint.step).toBe(1800);

    const second = createTestContext({ attempt: 2, initialCheckpoint: checkpoint });
    const resumed = await synthetic.train(p, second);
    expect(second.reports[0]!.step).toBeGreaterThan(1800);
    expect(resumed.extra?.resumed_from).toBe(1800);
    const { extra: _ignored, ...rest } = resumed;
    expect(rest).toEqual(full);
  });

  it('returns cancelled when aborted, also during a step delay', async () => {
    const ctx = createTestContext({ onReport: (r, c) => r.step === 5 && c.abort() });
    const outcome = await synthetic.train(params(), ctx);
    expect(outcome.status).toBe('cancelled');
    expect(outcome.steps).toBe(5);

    // A delay far longer than the test timeout: only an abort-aware timer lets this finish.
    const slow = createTestContext({ onReport: (r, c) => r.step === 0 && setTimeout(() => c.abort(), 10) });
    const slowOutcome = await synthetic.train(params({ step_delay_ms: 3_600_000 }), slow);
    expect(slowOutcome.status).toBe('cancelled');
    expect(slowOutcome.steps).toBe(0);
  });

  it('refuses unknown keys and out-of-range values, and fills defaults', () => {
    expect(synthetic.params.safeParse({ weight_decay: 1, lr: 0.001 }).success).toBe(false);
    expect(synthetic.params.safeParse({ data_fraction: 1 }).success).toBe(false);
    expect(synthetic.params.safeParse({ weight_decay: -0.1 }).success).toBe(false);
    expect(synthetic.params.safeParse({ model_size: 12.5 }).success).toBe(false);
    expect(synthetic.params.safeParse({ fail: 'explode' }).success).toBe(false);
    expect(synthetic.params.safeParse({ max_steps: 100, fail_at_step: 200 }).success).toBe(false);
    expect(params()).toMatchObject({
      weight_decay: 1,
      data_fraction: 0.5,
      model_size: 128,
      seed: 0,
      shift: 0,
    });
  });

  it('gives ground-truth first steps on the evaluation schedule a run sees', () => {
    const truth = syntheticGroundTruth({ ...grokking, eval_every: 70 });
    expect(truth.phase).toBe('grokking');
    expect(isEvalStep(truth.tTrain!, 70, 20_000)).toBe(true);
    expect(isEvalStep(truth.tVal!, 70, 20_000)).toBe(true);
  });
});

describe('test-only failure hooks', () => {
  it('throw: rejects at fail_at_step, but not on attempts past fail_attempts', async () => {
    const p = params({ fail: 'throw', fail_at_step: 300, fail_attempts: 1 });
    const ctx = createTestContext();
    await expect(synthetic.train(p, ctx)).rejects.toThrow(/injected failure at step 300/);
    expect(Math.max(...ctx.reports.map((r) => r.step))).toBeLessThan(300);
    const retry = await synthetic.train(p, createTestContext({ attempt: 2 }));
    expect(retry.status).toBe('completed');
  });

  it('nan: reports a NaN loss and returns diverged', async () => {
    const ctx = createTestContext();
    const outcome = await synthetic.train(params({ fail: 'nan', fail_at_step: 400 }), ctx);
    expect(outcome.status).toBe('diverged');
    expect(outcome.reason).toMatch(/NaN/);
    expect(Number.isNaN(ctx.reports.at(-1)!.trainLoss)).toBe(true);
    expect(outcome.steps).toBe(400);
  });

  it('hang: stops reporting and returns cancelled only once aborted', async () => {
    const ctx = createTestContext();
    let settled: TrialOutcome | undefined;
    const running = synthetic.train(params({ fail: 'hang', fail_at_step: 200 }), ctx).then((o) => {
      settled = o;
      return o;
    });
    const lastBefore = Math.max(
      ...Array.from({ length: 200 }, (_, s) => s).filter((s) => isEvalStep(s, 50, 20_000)),
    );
    await vi.waitFor(() => expect(ctx.reports.at(-1)?.step).toBe(lastBefore));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBeUndefined();
    expect(ctx.reports.at(-1)?.step).toBe(lastBefore);
    ctx.abort('heartbeat timeout');
    expect((await running).status).toBe('cancelled');
  });

  it('oom: a process running it dies', () => {
    const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
    const script = `
      const { default: t } = await import(${JSON.stringify(entry)});
      const { createTestContext } = await import('@grokmap/plugin-sdk');
      await t.train(t.params.parse({ fail: 'oom', fail_at_step: 1 }), createTestContext());
      process.exit(0);`;
    const child = spawnSync(
      process.execPath,
      ['--max-old-space-size=64', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        encoding: 'utf8',
        timeout: 50_000,
      },
    );
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/heap out of memory|Allocation failed/i);
  });

  it('segfault: a process running it dies by SIGSEGV after reporting the steps before fail_at_step', () => {
    const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
    const script = `
      const { default: t } = await import(${JSON.stringify(entry)});
      const { createTestContext } = await import('@grokmap/plugin-sdk');
      const ctx = createTestContext();
      const p = t.params.parse({ fail: 'segfault', fail_at_step: 300, max_steps: 1000, eval_every: 100 });
      const running = t.train(p, { ...ctx, report: (r) => { ctx.report(r); console.log('step', r.step); } });
      await running;
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
      timeout: 50_000,
    });
    expect(child.signal).toBe('SIGSEGV');
    expect(child.status).toBeNull();
    const steps = child.stdout.match(/step \d+/g)?.map((s) => Number(s.slice(5))) ?? [];
    expect(Math.max(...steps)).toBeLessThan(300);
    expect(steps.length).toBeGreaterThan(0);
  });

  it('none: nothing fires, the run is the one without a hook', async () => {
    expect(synthetic.params.safeParse({ fail: 'none' }).success).toBe(true);
    const [plain, none] = await Promise.all([
      synthetic.train(params({ ...grokking, max_steps: 2000 }), createTestContext()),
      synthetic.train(
        params({ ...grokking, max_steps: 2000, fail: 'none', fail_at_step: 100 }),
        createTestContext(),
      ),
    ]);
    expect(none.status).toBe('completed');
    expect(none).toEqual(plain);
  });
});
