export * from './connection.js';
export * from './dev-server.js';
export * from './paths.js';
export * from './temporal-binary.js';
