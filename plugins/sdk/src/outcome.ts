import { z } from 'zod';

/** One evaluation of a training run. Accuracies in [0, 1]. */
export const curvePointSchema = z.object({
  step: z.number().int().nonnegative(),
  trainAcc: z.number().min(0).max(1),
  valAcc: z.number().min(0).max(1),
  trainLoss: z.number().optional(),
  valLoss: z.number().optional(),
  weightNorm: z.number().optional(),
});
export type CurvePoint = z.infer<typeof curvePointSchema>;

/**
 * How a trial ended. Failures are data, not exceptions: a trainer that
 * diverges returns `diverged`; the worker maps thrown errors to `error`.
 */
export const trialStatusSchema = z.enum(['completed', 'diverged', 'timed_out', 'error', 'cancelled']);
export type TrialStatus = z.infer<typeof trialStatusSchema>;

export const finalMetricsSchema = z.object({
  trainAcc: z.number().min(0).max(1),
  valAcc: z.number().min(0).max(1),
  trainLoss: z.number().optional(),
  valLoss: z.number().optional(),
  weightNorm: z.number().optional(),
});
export type FinalMetrics = z.infer<typeof finalMetricsSchema>;

/** Curves are log-spaced and bounded so an outcome always fits a Temporal payload. */
export const MAX_CURVE_POINTS = 400;

export const trialOutcomeSchema = z.object({
  status: trialStatusSchema,
  reason: z.string().optional(),
  /** Steps actually trained (the last evaluated step). */
  steps: z.number().int().nonnegative(),
  /** The step budget the run had (T in the phase rule). */
  maxSteps: z.number().int().positive(),
  /** First evaluated step at which accuracy reached the context's threshold, or null. */
  firstStepAtThreshold: z.object({
    train: z.number().int().nonnegative().nullable(),
    val: z.number().int().nonnegative().nullable(),
  }),
  final: finalMetricsSchema,
  curves: z.array(curvePointSchema).max(MAX_CURVE_POINTS),
  /** Which compute backend ran (e.g. `wasm`, `tensorflow`, `cuda:0`). */
  backend: z.string().optional(),
  /** Trainer-specific numbers worth keeping (wall time, parameter count...). */
  extra: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).optional(),
});
export type TrialOutcome = z.infer<typeof trialOutcomeSchema>;
