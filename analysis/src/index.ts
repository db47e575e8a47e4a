export * from './classify.js';
export * from './reference.js';
export * from './types.js';
