// The module Temporal workers bundle as workflow code: deterministic, no I/O.
export { regressionWorkflow } from './regression-workflow.js';
export { partitionProgressSignal, progressQuery, trialProgressSignal } from './sweep-messages.js';
export { sweepWorkflow } from './sweep-workflow.js';
