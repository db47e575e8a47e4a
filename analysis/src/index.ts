export * from './axes.js';
export * from './boundary.js';
export * from './cells.js';
export * from './classify.js';
export * from './phase-map.js';
export * from './reference.js';
export * from './report/index.js';
export * from './types.js';
