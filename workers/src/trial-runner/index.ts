export * from './execute.js';
export * from './pool.js';
export * from './protocol.js';
export interface TrialRunner {
  run: import('./pool.js').TrialProcessPool['run'];
  close(): Promise<void>;
}
