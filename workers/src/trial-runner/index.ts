export * from './execute.js';
export * from './pool.js';
export * from './protocol.js';

/** Runs trials for a trainer worker: a pool of child processes, or inline for trusted instant trainers. */
export interface TrialRunner {
  runPack: import('./pool.js').TrialProcessPool['runPack'];
  close(): Promise<void>;
}
