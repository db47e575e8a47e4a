import type { CurvePoint } from '@grokmap/plugin-sdk';
import { mulberry32 } from '@grokmap/workflows';
import { truePhase } from '../testing/ground-truth.js';
import type { Phase } from '../types.js';
import type { ReportInput, ReportTrial } from './input.js';

/**
 * A realistic report input made from the closed-form phase diagram of
 * testing/ground-truth.ts: a grid over weight decay × data fraction × model
 * size × seed, with curves whose first threshold crossings match each
 * trial's phase, and (optionally) failed, cancelled, running and curve-less
 * trials sprinkled in. Deterministic; for tests and demos.
 */
export interface SampleOptions {
  weightDecays?: number[];
  fractions?: number[];
  modelSizes?: number[];
  seeds?: number;
  /** Every n-th trial fails with an error (0: none). */
  failEvery?: number;
  /** Add one cancelled, one running and one curve-less trial. */
  gaps?: boolean;
  threshold?: number;
  delaySteps?: number;
  maxSteps?: number;
  prngSeed?: number;
}

export function sampleReportInput(opts: SampleOptions = {}): ReportInput {
  const weightDecays = opts.weightDecays ?? [0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const fractions = opts.fractions ?? [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
  const modelSizes = opts.modelSizes ?? [64, 128, 256];
  const seeds = opts.seeds ?? 3;
  const threshold = opts.threshold ?? 0.99;
  const delaySteps = opts.delaySteps ?? 1000;
  const maxSteps = opts.maxSteps ?? 20000;
  const rand = mulberry32(opts.prngSeed ?? 7);
  const trials: ReportTrial[] = [];
  for (const size of modelSizes) {
    const shift = (Math.log2(size) - 7) * 0.05;
    for (const wd of weightDecays) {
      for (const f of fractions) {
        for (let seed = 0; seed < seeds; seed++) {
          const params = { weight_decay: wd, data_fraction: f, model_size: size, seed };
          const trialId = `t${String(trials.length).padStart(4, '0')}`;
          if (opts.failEvery && trials.length % opts.failEvery === opts.failEvery - 1) {
            trials.push({
              trialId,
              params,
              status: 'error',
              phase: null,
              tTrain: null,
              tVal: null,
              ratio: null,
              error: 'CUDA error: out of memory <allocating 2.0 GiB> & "retry" failed',
            });
            continue;
          }
          const phase = truePhase(wd, f + (rand() * 2 - 1) * 0.04, shift);
          const { tTrain, tVal } = crossingSteps(phase, wd, f, delaySteps, maxSteps, rand);
          trials.push({
            trialId,
            params,
            status: 'completed',
            phase,
            tTrain,
            tVal,
            ratio: tTrain !== null && tVal !== null ? tVal / tTrain : null,
            semiGrokking: false,
            curves: curvesFor(tTrain, tVal, maxSteps, threshold),
          });
        }
      }
    }
  }
  if (opts.gaps ?? true) {
    const base = {
      weight_decay: weightDecays[0]!,
      data_fraction: fractions[0]!,
      model_size: modelSizes[0]!,
      seed: seeds,
    };
    const none = { phase: null, tTrain: null, tVal: null, ratio: null };
    trials.push({ trialId: 'cancelled-1', params: { ...base }, status: 'cancelled', ...none });
    trials.push({ trialId: 'running-1', params: { ...base, seed: seeds + 1 }, status: 'running', ...none });
    const last = trials.find((t) => t.status === 'completed');
    if (last) delete last.curves;
  }
  return {
    sweep: {
      id: 'sweep-demo-0001',
      name: 'modadd p=59 <demo>',
      spec: {
        name: 'modadd p=59 <demo>',
        trainer: 'synthetic',
        method: 'grid',
        parameters: {
          weight_decay: { values: weightDecays, distribution: 'log_uniform_values' },
          data_fraction: { values: fractions },
          model_size: { values: modelSizes },
          seed: { values: Array.from({ length: seeds }, (_, i) => i) },
        },
        phase: { threshold, delay_steps: delaySteps },
      },
      status: 'completed',
    },
    trials,
    phaseRule: { threshold, delaySteps },
  };
}

function crossingSteps(
  phase: Phase,
  wd: number,
  f: number,
  delay: number,
  maxSteps: number,
  rand: () => number,
): { tTrain: number | null; tVal: number | null } {
  const tTrain = Math.round((200 + 400 * (1 - f)) * (1 + 0.3 * rand()));
  switch (phase) {
    case 'comprehension':
      return { tTrain, tVal: tTrain + Math.round(delay * 0.4 * rand()) };
    case 'grokking':
      return {
        tTrain,
        tVal: Math.min(
          maxSteps - 50,
          tTrain + delay + Math.round(delay * 12 * (1 - f) * (1 + 1 / (1 + wd)) * rand()),
        ),
      };
    case 'memorization':
      return { tTrain, tVal: null };
    default:
      return { tTrain: null, tVal: null };
  }
}

/** Log-spaced evaluations whose accuracies cross `threshold` exactly at the given steps. */
function curvesFor(
  tTrain: number | null,
  tVal: number | null,
  maxSteps: number,
  threshold: number,
): CurvePoint[] {
  const steps = new Set<number>([0]);
  for (let i = 0; i <= 40; i++) steps.add(Math.round(10 * (maxSteps / 10) ** (i / 40)));
  if (tTrain !== null) steps.add(tTrain);
  if (tVal !== null) steps.add(tVal);
  const acc = (t: number | null, step: number, plateau: number) => {
    if (t === null) return plateau * (1 - Math.exp(-step / (maxSteps / 4)));
    if (step >= t) return threshold + (1 - threshold) * (1 - Math.exp(-(step - t) / t));
    return (threshold - 0.01) * (step / t) ** 2;
  };
  return [...steps]
    .sort((a, b) => a - b)
    .map((step) => ({
      step,
      trainAcc: clamp(acc(tTrain, step, 0.6)),
      valAcc: clamp(acc(tVal, step, tTrain === null ? 0.05 : 0.3)),
    }));
}

function clamp(v: number): number {
  return Math.min(1, Math.max(0, v));
}
