export * from './conformance.js';
export * from './curve-recorder.js';
export * from './outcome.js';
export * from './packing.js';
export * from './test-context.js';
export * from './trainer.js';
