// The module Temporal workers bundle as workflow code: deterministic, no I/O.
export { regressionWorkflow } from './regression-workflow.js';
export { progressQuery, sweepWorkflow, trialProgressSignal } from './sweep-workflow.js';
