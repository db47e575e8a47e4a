import type { CurvePoint, TrialOutcome } from '@grokmap/plugin-sdk';
import type { Phase, PhaseClassification, PhaseRule } from './types.js';

/**
 * Phase classification of single runs (DESIGN.md "Phases"):
 *
 * - comprehension: train and validation both reached θ, t_val − t_train < Δ
 * - grokking:      both reached, t_val − t_train ≥ Δ
 * - memorization:  only train reached θ
 * - confusion:     train never reached θ (whether or not validation did)
 *
 * A run whose validation reaches θ before its training set does has a
 * negative delay and counts as comprehension.
 */

/** The rule of DESIGN.md: θ = 0.99, Δ = 1000 steps. */
export const DEFAULT_PHASE_RULE: PhaseRule = { threshold: 0.99, delaySteps: 1000 };

/** Minimum rise of validation accuracy after t_train that counts as semi-grokking. */
export const SEMI_GROKKING_RISE = 0.1;

/** Phase from the first steps at which train and validation reached θ (null: never reached). */
export function classifyTimes(tTrain: number | null, tVal: number | null, rule: PhaseRule): Phase {
  if (tTrain === null) return 'confusion';
  if (tVal === null) return 'memorization';
  return tVal - tTrain < rule.delaySteps ? 'comprehension' : 'grokking';
}

/** R = t_val / t_train when both were reached (null otherwise, or when t_train is 0). */
export function delayRatio(tTrain: number | null, tVal: number | null): number | null {
  return tTrain !== null && tVal !== null && tTrain > 0 ? tVal / tTrain : null;
}

/**
 * Classify one run. t_train and t_val come from `outcome.firstStepAtThreshold`
 * (the trainer measured them at its context's threshold, which the sweep sets
 * from the same rule); the curves give the validation accuracy at t_train and
 * the semi-grokking flag.
 */
export function classifyOutcome(outcome: TrialOutcome, rule: PhaseRule): PhaseClassification {
  const tTrain = outcome.firstStepAtThreshold.train;
  const tVal = outcome.firstStepAtThreshold.val;
  const phase = classifyTimes(tTrain, tVal, rule);
  const valAtTrain = tTrain === null ? null : valAccuracyAt(outcome.curves, tTrain);
  return {
    phase,
    tTrain,
    tVal,
    ratio: delayRatio(tTrain, tVal),
    valAtTrain,
    semiGrokking:
      phase === 'memorization' && isSemiGrokking(outcome.curves, tTrain!, outcome.final.valAcc, rule),
  };
}

/**
 * Validation accuracy at `step`, linearly interpolated between the evaluations
 * around it (curves are log-spaced, so `step` is often between two points).
 * Outside the recorded range the nearest evaluation is used; null without curves.
 */
export function valAccuracyAt(curves: readonly CurvePoint[], step: number): number | null {
  if (curves.length === 0) return null;
  const sorted = isSortedByStep(curves) ? curves : [...curves].sort((a, b) => a.step - b.step);
  const first = sorted[0]!;
  if (step <= first.step) return first.valAcc;
  for (let i = 1; i < sorted.length; i++) {
    const b = sorted[i]!;
    if (b.step < step) continue;
    const a = sorted[i - 1]!;
    if (b.step === a.step) return b.valAcc;
    return a.valAcc + ((step - a.step) / (b.step - a.step)) * (b.valAcc - a.valAcc);
  }
  return sorted[sorted.length - 1]!.valAcc;
}

/**
 * Semi-grokking (Varma et al. 2023): after fitting the training set, validation
 * accuracy rises by at least {@link SEMI_GROKKING_RISE} above its value at t_train
 * (its peak after t_train is what counts) but the run ends below θ.
 */
function isSemiGrokking(
  curves: readonly CurvePoint[],
  tTrain: number,
  finalValAcc: number,
  rule: PhaseRule,
): boolean {
  if (finalValAcc >= rule.threshold) return false;
  const atTrain = valAccuracyAt(curves, tTrain);
  if (atTrain === null) return false;
  let peak = atTrain;
  for (const p of curves) if (p.step >= tTrain && p.valAcc > peak) peak = p.valAcc;
  return peak - atTrain >= SEMI_GROKKING_RISE - 1e-12;
}

function isSortedByStep(curves: readonly CurvePoint[]): boolean {
  for (let i = 1; i < curves.length; i++) if (curves[i]!.step < curves[i - 1]!.step) return false;
  return true;
}
