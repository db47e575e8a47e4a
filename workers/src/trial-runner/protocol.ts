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
}

export type ParentMessage = { type: 'run'; job: RunTrialJob } | { type: 'abort'; reason: string };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; report: ProgressReport }
  | { type: 'checkpoint'; step: number; uri: string }
  | { type: 'result'; outcome: TrialOutcome }
  | { type: 'invalid-params'; message: string }
  | { type: 'failed'; message: string };
