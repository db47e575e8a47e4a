export * from './checkpoint-archive.js';
export * from './command-trainer.js';
export * from './config.js';
export * from './json-schema-lite.js';
export * from './protocol.js';
