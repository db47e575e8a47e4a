import type { DeviceAssignment, ProgressReport, TrialOutcome } from '@grokmap/plugin-sdk';

/** Messages between a trainer worker and the child process that runs one trial (or one pack) at a time. */

export interface RunTrialJob {
  trialId: string;
  trainer: string;
  params: Record<string, unknown>;
  threshold: number;
  attempt: number;
  checkpointDir: string;
  checkpointHint?: string;
  device: DeviceAssignment;
  /**
   * Kill the trial when it reports no progress for this long (ms). The
   * activity sets it from its heartbeat timeout: the worker heartbeats on a
   * timer, so without this a hung plugin would never miss a heartbeat.
   */
  stallTimeoutMs?: number;
}

/** How one trial ended in its process; never a thrown error. */
export type TrialRunResult =
  | { kind: 'outcome'; outcome: TrialOutcome }
  | { kind: 'invalid-params'; message: string }
  | { kind: 'failed'; message: string }
  /** The process died or was killed (out of memory, segfault, hang). */
  | { kind: 'crashed'; message: string; hung: boolean; outOfMemory: boolean };

/** What a child reports for one trial: everything but a crash, which only the parent sees. */
export type ChildTrialResult = Exclude<TrialRunResult, { kind: 'crashed' }>;

/** `jobs` holds one trial, or the trials of a pack (same trainer, same process). */
export type ParentMessage = { type: 'run'; jobs: RunTrialJob[] } | { type: 'abort'; reason: string };

/** `index` is the trial's position in the run's `jobs`. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; index: number; report: ProgressReport }
  | { type: 'checkpoint'; index: number; step: number; uri: string }
  | { type: 'result'; index: number; result: ChildTrialResult };

/**
 * Written alone on a line of the trial process's stderr when a run begins. Lines arrive on the
 * stderr pipe in the order they were written but not in step with IPC messages, so this, not the
 * run message, is where the parent starts the run's own stderr tail (and it is not echoed).
 */
export const RUN_STARTS_MARKER = '\u0000grokmap: run starts';
