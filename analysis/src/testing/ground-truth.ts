import { mulberry32 } from '@grokmap/workflows';
import type { AnalysedTrial, Axis, Phase } from '../types.js';

/**
 * A closed-form phase diagram for tests, over u = log10(weight decay) in
 * [−2, 1] and data fraction f in [0.1, 0.9], with all four phases:
 *
 * - confusion: u < −1.2 and f < 0.3 (too little data and weight decay to fit)
 * - memorization: below the critical fraction f_c(u) = 0.55 − 0.1 (u + 2) + shift
 *   (weight decay lowers the data needed, as in Power et al.)
 * - grokking: between f_c(u) and 0.85 − 0.15 (u + 2)
 * - comprehension: above that
 *
 * Seeds are noisy: each sees f jittered uniformly by ±`jitter`.
 */
export const WD_AXIS: Axis = { name: 'weight_decay', log: true, min: 0.01, max: 10, values: [] };
export const FRACTION_AXIS: Axis = { name: 'data_fraction', log: false, min: 0.1, max: 0.9, values: [] };

export function criticalFraction(weightDecay: number, shift = 0): number {
  return 0.55 - 0.1 * (Math.log10(weightDecay) + 2) + shift;
}

export function truePhase(weightDecay: number, fraction: number, shift = 0): Phase {
  const u = Math.log10(weightDecay);
  if (u < -1.2 && fraction < 0.3) return 'confusion';
  if (fraction < criticalFraction(weightDecay, shift)) return 'memorization';
  if (fraction < 0.85 - 0.15 * (u + 2)) return 'grokking';
  return 'comprehension';
}

export interface SyntheticSweep {
  weightDecays: number[];
  fractions: number[];
  seeds: number;
  jitter?: number;
  /** Extra parameters per group, e.g. model sizes, each with its own shift of f_c. */
  groups?: { params: Record<string, unknown>; shift: number }[];
  prngSeed?: number;
}

/** Classified trials of a sweep over the synthetic diagram (deterministic). */
export function syntheticTrials(sweep: SyntheticSweep): AnalysedTrial[] {
  const rand = mulberry32(sweep.prngSeed ?? 1);
  const jitter = sweep.jitter ?? 0.04;
  const out: AnalysedTrial[] = [];
  for (const group of sweep.groups ?? [{ params: {}, shift: 0 }]) {
    for (const wd of sweep.weightDecays) {
      for (const f of sweep.fractions) {
        for (let seed = 0; seed < sweep.seeds; seed++) {
          const phase = truePhase(wd, f + (rand() * 2 - 1) * jitter, group.shift);
          out.push({
            trialId: `wd${wd}-f${f}-s${seed}-${out.length}`,
            params: { ...group.params, weight_decay: wd, data_fraction: f, seed },
            status: 'completed',
            classification: {
              phase,
              tTrain: null,
              tVal: null,
              ratio: null,
              valAtTrain: null,
              semiGrokking: false,
            },
          });
        }
      }
    }
  }
  return out;
}

/** n values evenly spaced from min to max, on a log scale when `log`. */
export function spaced(min: number, max: number, n: number, log = false): number[] {
  return Array.from({ length: n }, (_, i) => {
    const t = n === 1 ? 0.5 : i / (n - 1);
    return log ? 10 ** (Math.log10(min) + t * (Math.log10(max) - Math.log10(min))) : min + t * (max - min);
  });
}
