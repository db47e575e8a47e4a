import type { Logger } from 'pino';
import type { z } from 'zod';
import type { TrialOutcome } from './outcome.js';

/** Progress a trainer reports while it runs; turned into heartbeats by the worker. */
export interface ProgressReport {
  step: number;
  trainAcc?: number;
  valAcc?: number;
  trainLoss?: number;
  valLoss?: number;
  weightNorm?: number;
}

/** Opaque checkpoint bytes. A trainer decides its own format. */
export interface Checkpoint {
  step: number;
  data: Uint8Array;
}

export interface CheckpointStore {
  /** Persist a checkpoint atomically; the worker puts its reference in the next heartbeat. */
  save(step: number, data: Uint8Array): Promise<void>;
  /** The latest checkpoint for this trial (from this or an earlier attempt), if any. */
  restore(): Promise<Checkpoint | undefined>;
}

export interface DeviceAssignment {
  kind: 'cpu' | 'gpu';
  /** Device index for GPUs (already pinned via CUDA_VISIBLE_DEVICES for child processes). */
  index?: number;
}

/** Everything a trainer may use from its host. */
export interface TrainerContext {
  trialId: string;
  /** Attempt number, 1 on the first try; greater on retries (resume from `checkpoint.restore()`). */
  attempt: number;
  /** Accuracy threshold θ of the sweep's phase rule; trainers record first steps at it. */
  threshold: number;
  report(progress: ProgressReport): void;
  checkpoint: CheckpointStore;
  /** Aborted on cancellation or worker shutdown; trainers stop at the next step and return `cancelled`. */
  signal: AbortSignal;
  logger: Logger;
  device: DeviceAssignment;
}

/** Parameters are whatever the sweep spec merges for a trial: parameters plus fixed values. */
export type TrialParams = Record<string, unknown>;

/**
 * A trainer that trains several trials of one shape at once (batched
 * weights on a GPU, say) declares how. Sweeps with `resources.pack` send it
 * trials in packs; each trial is still recorded, resumed and reported on
 * its own.
 */
export interface PackingSupport {
  /** The most trials one `trainPack` call takes. */
  maxTrials: number;
  /**
   * Parameters that must be equal for trials to share a pack (what fixes
   * the model's shape: `p`, `model_size`…). Trials that differ in any of
   * them go to separate calls.
   */
  shapeKeys: readonly string[];
}

/** One trial of a pack: its parameters and its own context (its own report, checkpoints, trial id, attempt). */
export interface PackedTrial<P = TrialParams> {
  params: P;
  ctx: TrainerContext;
}

/** What the trials of one pack share: one abort signal, one device, one logger. */
export interface PackContext {
  signal: AbortSignal;
  logger: Logger;
  device: DeviceAssignment;
  threshold: number;
}

export interface TrainerDefinition<S extends z.ZodType = z.ZodType> {
  /** Registry name a spec's `trainer:` refers to. */
  name: string;
  version: string;
  description?: string;
  /** Validates the merged parameters of every trial before a sweep starts. */
  params: S;
  train(params: z.output<S>, ctx: TrainerContext): Promise<TrialOutcome>;
  /** Set together with `trainPack` by trainers that train packs of trials in one go. */
  packing?: PackingSupport;
  /**
   * Train compatible trials (equal `packing.shapeKeys`, at most
   * `packing.maxTrials`) together; one outcome per trial, in order. A trial
   * that diverges or fails gets its own outcome; the others go on.
   */
  trainPack?(trials: PackedTrial<z.output<S>>[], pack: PackContext): Promise<TrialOutcome[]>;
}

/**
 * Declare a trainer plugin. A plugin package's default export is the value
 * this returns; the identity function exists so TypeScript infers the
 * parameter type from the schema.
 */
export function defineTrainer<S extends z.ZodType>(definition: TrainerDefinition<S>): TrainerDefinition<S> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new Error(`trainer name "${definition.name}" must be lower-case letters, digits and '-'`);
  }
  if (!!definition.packing !== !!definition.trainPack) {
    throw new Error(`trainer "${definition.name}": 'packing' and 'trainPack' go together`);
  }
  if (
    definition.packing &&
    !(Number.isInteger(definition.packing.maxTrials) && definition.packing.maxTrials >= 1)
  ) {
    throw new Error(`trainer "${definition.name}": packing.maxTrials must be a positive integer`);
  }
  return definition;
}

/** Type-erased trainer as hosted by a worker registry. */
export type AnyTrainer = TrainerDefinition<z.ZodType>;
