import { isEvalStep } from '@grokmap/plugin-sdk';
import { noiseKey, normalAt } from './noise.js';
import type { SyntheticParams } from './params.js';

/**
 * The closed-form model behind the synthetic trainer (README.md explains it
 * with the same symbols). Pure functions: the trainer samples them at its
 * evaluation steps, and `groundTruth` solves them for the first steps at θ.
 *
 * With x = log10(max(wd, 1e-4)), s = log2(model_size / 128), f = data_fraction:
 *
 *   S(t; τ, k)   = 1 / (1 + (t / τ)^-k)                 sigmoid in log step
 *   g            = x_fit(s) − x,   x_fit(s) = FIT_X + FIT_S·s    (fit margin)
 *   h            = f − f_crit(x, s),  f_crit = CRIT_F − CRIT_X·x − CRIT_S·s + shift
 *   P_train      = 1 − ε − DROP·σ(−g / FIT_WIDTH)
 *   P_val        = (1 − ε − DROP·σ(−h / CRIT_WIDTH)) · P_train
 *   τ_train      = TAU·(½ + f)·2^(−TAU_S·s) · e^(TAU_NOISE·z₁)
 *   M            = 1 + DELAY·10^(−DELAY_X·x)·2^(−DELAY_S·s) / √max(h, H_MIN)
 *   τ_val        = τ_train·M · e^(DELAY_NOISE·z₂)
 *   train(t)     = c + (P_train − c)·S(t; τ_train, K)
 *   val(t)       = c + (a_mem − c)·S(t; τ_train, K) + (P_val − a_mem)·S(t; τ_val, K),
 *                  a_mem = c + (P_val − c)·(MEM_VAL + MEM_VAL_F·f)
 *
 * z₁, z₂ are standard normals drawn from the seed (0 for the ground truth).
 */
export const MODEL = {
  /** Chance accuracy (a modular-arithmetic task with p ≈ 97). */
  CHANCE: 0.01,
  /** Gap to perfect accuracy that is never closed. */
  EPSILON: 0.0005,
  /** How far below 1 a plateau falls on the wrong side of a boundary. */
  DROP: 0.6,
  /** Slope of every sigmoid in ln(step). */
  K: 4,
  /** log10(wd) above which the model can no longer fit its training set, at model_size 128. */
  FIT_X: 1,
  /** ... and how much doubling the model size moves that limit. */
  FIT_S: 0.5,
  FIT_WIDTH: 0.04,
  /** Critical data fraction at wd = 1, model_size = 128 (negative: any fraction generalizes there). */
  CRIT_F: -0.075,
  /** Decrease of the critical data fraction per decade of weight decay. */
  CRIT_X: 0.5,
  /** Decrease of the critical data fraction per doubling of model size. */
  CRIT_S: 0.125,
  CRIT_WIDTH: 0.012,
  /** Train midpoint (steps) at data_fraction 0.5, model_size 128. */
  TAU: 120,
  TAU_S: 0.25,
  TAU_NOISE: 0.08,
  /** Grokking delay factor: M − 1 at wd = 1, model_size 128 and h = 1. */
  DELAY: 0.5,
  /** Delay grows by 10^DELAY_X per decade of smaller weight decay (grokking time ∝ 1/wd). */
  DELAY_X: 1,
  DELAY_S: 0.3,
  DELAY_NOISE: 0.1,
  H_MIN: 1e-3,
  /** Share of the validation plateau reached by memorization alone. */
  MEM_VAL: 0.1,
  MEM_VAL_F: 0.3,
  /** Examples in the whole (imaginary) dataset: 97² pairs. Sets the evaluation noise. */
  EXAMPLES: 97 * 97,
  /** Weight-decay floor for the log scale (weight_decay 0 behaves like this). */
  WD_FLOOR: 1e-4,
  /** Effective learning rate of the weight-norm decay: the norm relaxes at rate LR·wd per step. */
  LR: 1e-3,
} as const;

/** The phase rule of DESIGN.md (same shape as @grokmap/analysis's PhaseRule). */
export interface PhaseRule {
  threshold: number;
  delaySteps: number;
}
export const DEFAULT_RULE: PhaseRule = { threshold: 0.99, delaySteps: 1000 };

export type Phase = 'comprehension' | 'grokking' | 'memorization' | 'confusion';

type ModelParams = Pick<SyntheticParams, 'weight_decay' | 'data_fraction' | 'model_size' | 'shift'>;

/** Everything that fixes a run's curves. */
export interface RunShape {
  trainPlateau: number;
  valPlateau: number;
  valMemorized: number;
  tauTrain: number;
  tauVal: number;
  weightDecay: number;
  initialNorm: number;
  equilibriumNorm: number;
  trainExamples: number;
  valExamples: number;
  /** Distances to the boundaries, in the model's own units (see README.md). */
  fitMargin: number;
  dataMargin: number;
}

const sigma = (u: number): number => 1 / (1 + Math.exp(-u));
const logStepSigmoid = (t: number, tau: number): number => (t <= 0 ? 0 : 1 / (1 + (t / tau) ** -MODEL.K));

export function logWeightDecay(wd: number): number {
  return Math.log10(Math.max(wd, MODEL.WD_FLOOR));
}

/** log10(wd) above which a model of this size cannot fit its training set. */
export function fitLimit(modelSize: number): number {
  return MODEL.FIT_X + MODEL.FIT_S * Math.log2(modelSize / 128);
}

/** Critical data fraction: below it validation accuracy plateaus well below θ. Decreasing in log wd and model size. */
export function criticalDataFraction(weightDecay: number, modelSize: number, shift = 0): number {
  const x = logWeightDecay(weightDecay);
  const s = Math.log2(modelSize / 128);
  return MODEL.CRIT_F - MODEL.CRIT_X * x - MODEL.CRIT_S * s + shift;
}

/** The shape of a run; `noise` gives the per-seed draws (z₁, z₂), zeros for the ground truth. */
export function runShape(p: ModelParams, noise: { z1: number; z2: number } = { z1: 0, z2: 0 }): RunShape {
  const { CHANCE: c, EPSILON: eps, DROP } = MODEL;
  const x = logWeightDecay(p.weight_decay);
  const s = Math.log2(p.model_size / 128);
  const f = p.data_fraction;
  const g = fitLimit(p.model_size) - x;
  const h = f - criticalDataFraction(p.weight_decay, p.model_size, p.shift);
  const trainPlateau = 1 - eps - DROP * sigma(-g / MODEL.FIT_WIDTH);
  const valPlateau = (1 - eps - DROP * sigma(-h / MODEL.CRIT_WIDTH)) * trainPlateau;
  const tauTrain = MODEL.TAU * (0.5 + f) * 2 ** (-MODEL.TAU_S * s) * Math.exp(MODEL.TAU_NOISE * noise.z1);
  const delay =
    1 +
    (MODEL.DELAY * 10 ** (-MODEL.DELAY_X * x) * 2 ** (-MODEL.DELAY_S * s)) /
      Math.sqrt(Math.max(h, MODEL.H_MIN));
  const tauVal = tauTrain * delay * Math.exp(MODEL.DELAY_NOISE * noise.z2);
  const initialNorm = Math.sqrt(p.model_size);
  const trainExamples = Math.max(1, Math.round(f * MODEL.EXAMPLES));
  return {
    trainPlateau,
    valPlateau,
    valMemorized: c + (valPlateau - c) * (MODEL.MEM_VAL + MODEL.MEM_VAL_F * f),
    tauTrain,
    tauVal,
    weightDecay: p.weight_decay,
    initialNorm,
    equilibriumNorm: initialNorm * (0.25 + 0.75 / (1 + 3 * p.weight_decay)),
    trainExamples,
    valExamples: Math.max(1, MODEL.EXAMPLES - trainExamples),
    fitMargin: g,
    dataMargin: h,
  };
}

/** Per-seed draws of a run: a pure function of the seed and the model parameters. */
export function seedNoise(p: ModelParams & { seed: number }): { key: number; z1: number; z2: number } {
  const key = noiseKey(`${p.seed}|${p.weight_decay}|${p.data_fraction}|${p.model_size}|${p.shift}`);
  return { key, z1: normalAt(key, 0, 0), z2: normalAt(key, 0, 1) };
}

export interface ModelPoint {
  trainAcc: number;
  valAcc: number;
  trainLoss: number;
  valLoss: number;
  weightNorm: number;
}

/** Noise-free metrics of a run at `step`. */
export function modelAt(shape: RunShape, step: number): ModelPoint {
  const c = MODEL.CHANCE;
  const fit = logStepSigmoid(step, shape.tauTrain);
  const gen = logStepSigmoid(step, shape.tauVal);
  const trainAcc = c + (shape.trainPlateau - c) * fit;
  const valAcc = c + (shape.valMemorized - c) * fit + (shape.valPlateau - shape.valMemorized) * gen;
  // Cross-entropy-like losses; validation loss rises while the net memorizes and falls when it generalizes.
  const trainLoss = -Math.log(trainAcc);
  const valLoss = -Math.log(valAcc) + 2 * fit * (1 - gen);
  // The norm grows while memorizing, then relaxes to an equilibrium at rate LR·wd (AdamW's decoupled decay).
  const grown = shape.initialNorm * (1 + 0.6 * fit);
  const weightNorm =
    shape.equilibriumNorm + (grown - shape.equilibriumNorm) * Math.exp(-MODEL.LR * shape.weightDecay * step);
  return { trainAcc, valAcc, trainLoss, valLoss, weightNorm };
}

/** First (continuous) step at which `value` reaches `level`, or null if never before `limit`. Monotone `value`. */
function crossing(value: (t: number) => number, level: number, limit: number): number | null {
  if (value(limit) < level) return null;
  let lo = 0;
  let hi = Math.log(limit);
  if (value(1) >= level) return 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (value(Math.exp(mid)) >= level) hi = mid;
    else lo = mid;
  }
  return Math.exp(hi);
}

/** The first evaluation step at or after `t` (the trainer only sees evaluated steps). */
function nextEvalStep(t: number, evalEvery: number, maxSteps: number): number {
  let step = Math.max(0, Math.ceil(t - 1e-9));
  while (!isEvalStep(step, evalEvery, maxSteps)) step++;
  return step;
}

export interface GroundTruth {
  phase: Phase;
  /** First evaluated steps at θ of the noise-free run, null when not within max_steps. */
  tTrain: number | null;
  tVal: number | null;
  fitMargin: number;
  dataMargin: number;
}

type GroundTruthParams = ModelParams & Pick<SyntheticParams, 'max_steps' | 'eval_every'>;

/** The noise-free outcome of a run under a phase rule: the ground truth the synthetic trainer is built around. */
export function groundTruth(p: GroundTruthParams, rule: PhaseRule = DEFAULT_RULE): GroundTruth {
  return phaseOfShape(runShape(p), p, rule);
}

/** Phase and first evaluated steps at θ of the noise-free curves of `shape` (a seed's shape, or the ground truth's). */
export function phaseOfShape(
  shape: RunShape,
  p: Pick<SyntheticParams, 'max_steps' | 'eval_every'>,
  rule: PhaseRule = DEFAULT_RULE,
): GroundTruth {
  const at = (t: number) => modelAt(shape, t);
  const train = crossing((t) => at(t).trainAcc, rule.threshold, p.max_steps);
  const val = crossing((t) => at(t).valAcc, rule.threshold, p.max_steps);
  const tTrain = train === null ? null : nextEvalStep(train, p.eval_every, p.max_steps);
  const tVal = val === null ? null : nextEvalStep(val, p.eval_every, p.max_steps);
  let phase: Phase;
  if (tTrain === null) phase = 'confusion';
  else if (tVal === null) phase = 'memorization';
  else phase = tVal - tTrain < rule.delaySteps ? 'comprehension' : 'grokking';
  return { phase, tTrain, tVal, fitMargin: shape.fitMargin, dataMargin: shape.dataMargin };
}
