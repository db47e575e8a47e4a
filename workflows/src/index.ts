// Everything here is safe to import from workflow code except validate.ts
// (it parses YAML), which workflow code never imports.

export * from './activity-types.js';
export { DEFAULT_PARTITION_SIZE } from './partitioned-sweep.js';
export * from './prng.js';
export * from './proposal-rounds.js';
export * from './regression-types.js';
export type { RegressionInput, RegressionResult } from './regression-workflow.js';
export * from './sampler-state-size.js';
export * from './samplers/sampler.js';
export * from './samplers/static-sampler.js';
export * from './search-space.js';
export * from './spec.js';
export { closedWorkflowReason, sweepFailureVerdict } from './sweep-failure.js';
export {
  partitionProgressSignal,
  progressQuery,
  trialProgressSignal,
  trialsProgressSignal,
} from './sweep-messages.js';
export * from './sweep-state.js';
export type { SweepInput, SweepResult } from './sweep-workflow.js';
export * from './trials.js';
export * from './validate.js';
