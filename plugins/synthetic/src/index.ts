import { fileURLToPath } from 'node:url';
import { defineTrainer } from '@grokmap/plugin-sdk';
import { DEFAULT_RULE, type GroundTruth, groundTruth, type Phase, type PhaseRule } from './model.js';
import { type SyntheticParamsInput, syntheticParamsSchema } from './params.js';
import { trainSynthetic } from './train.js';

export {
  criticalDataFraction,
  DEFAULT_RULE,
  fitLimit,
  type GroundTruth,
  MODEL,
  modelAt,
  type Phase,
  type PhaseRule,
  phaseOfShape,
  runShape,
} from './model.js';
export {
  FAILURE_HOOKS,
  type FailureHook,
  type SyntheticParams,
  type SyntheticParamsInput,
  syntheticParamsSchema,
} from './params.js';

/**
 * Fast analytic stand-in for a grokking run (README.md): realistic curves in
 * milliseconds from a closed-form model with a known phase diagram, so
 * sweeps, phase-diagram estimation and fault handling can be tested end to
 * end against a ground truth.
 */
export default defineTrainer({
  name: 'synthetic',
  version: '0.1.0',
  description:
    'Closed-form grokking curves over weight decay, data fraction and model size with a known phase diagram',
  params: syntheticParamsSchema,
  train: trainSynthetic,
  // Packs exercise the packing path end to end; the analytic model has no weights to batch, so the
  // trials of a pack simply run side by side.
  packing: { maxTrials: 1024, shapeKeys: ['model_size'] },
  trainPack: (trials) => Promise.all(trials.map(({ params, ctx }) => trainSynthetic(params, ctx))),
});

/** The noise-free outcome (phase and first steps at θ) of a run with these parameters. */
export function syntheticGroundTruth(
  params: SyntheticParamsInput,
  rule: PhaseRule = DEFAULT_RULE,
): GroundTruth {
  return groundTruth(syntheticParamsSchema.parse(params), rule);
}

/** The noise-free phase of a run with these parameters under `rule`: the ground truth of the phase diagram. */
export function groundTruthPhase(params: SyntheticParamsInput, rule: PhaseRule = DEFAULT_RULE): Phase {
  return syntheticGroundTruth(params, rule).phase;
}

/** Path of the demo sweep spec (a grid whose ground truth shows all four phases), for `grokmap demo`. */
export const demoSweepPath: string = fileURLToPath(new URL('../demo-sweep.yaml', import.meta.url));
