export * from './errors.js';
export { COLUMN_TYPES, MIGRATIONS, type Migration } from './migrations.js';
export * from './open-store.js';
export * from './postgres-store.js';
export { SqlResultsStore } from './sql-store.js';
export * from './sqlite-store.js';
export * from './types.js';
