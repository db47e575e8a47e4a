// The module Temporal workers bundle as workflow code: deterministic, no I/O.
export { progressQuery, sweepWorkflow, trialProgressSignal } from './sweep-workflow.js';
