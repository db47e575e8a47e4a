// Everything here is safe to import from workflow code except validate.ts
// (it parses YAML), which workflow code never imports.

export * from './prng.js';
export * from './search-space.js';
export * from './spec.js';
export * from './trials.js';
export * from './validate.js';
