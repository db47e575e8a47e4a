import type { DeviceAssignment, ProgressReport, TrialOutcome } from '@grokmap/plugin-sdk';

/** Messages between a trainer worker and the child process that runs one trial at a time. */

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

export type ParentMessage = { type: 'run'; job: RunTrialJob } | { type: 'abort'; reason: string };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; report: ProgressReport }
  | { type: 'checkpoint'; step: number; uri: string }
  | { type: 'result'; outcome: TrialOutcome }
  | { type: 'invalid-params'; message: string }
  | { type: 'failed'; message: string };
