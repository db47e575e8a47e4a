import {
  type CurvePoint,
  CurveRecorder,
  type DeviceAssignment,
  type FinalMetrics,
  type ProgressReport,
  type TrialOutcome,
  trialStatusSchema,
} from '@grokmap/plugin-sdk';
import { z } from 'zod';

/**
 * grokmap command protocol, version 1 (see ../PROTOCOL.md): the messages a
 * trainer program writes to stdout, one JSON object per line, and the
 * parameters file the host writes for it. Field names on the wire are
 * snake_case; the host converts them to the SDK's camelCase types.
 */
export const PROTOCOL_VERSION = 1;

/** JSON has no NaN or Infinity: programs send null for a non-finite loss or norm. */
const optionalMetric = z
  .number()
  .nullable()
  .optional()
  .transform((x) => x ?? undefined);
const accuracy = z.number().min(0).max(1);
const step = z.number().int().nonnegative();
/** Present only in packed runs (the `pack` extension): which trial a line belongs to. */
const trialId = z.string().min(1).optional();

export const progressMessageSchema = z.strictObject({
  type: z.literal('progress'),
  trial_id: trialId,
  step,
  train_acc: accuracy.optional(),
  val_acc: accuracy.optional(),
  train_loss: optionalMetric,
  val_loss: optionalMetric,
  weight_norm: optionalMetric,
});

export const checkpointMessageSchema = z.strictObject({
  type: z.literal('checkpoint'),
  trial_id: trialId,
  step,
  /** A file or directory inside the checkpoint dir; relative paths are relative to it. */
  path: z.string().min(1),
});

export const logMessageSchema = z.strictObject({
  type: z.literal('log'),
  trial_id: trialId,
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  msg: z.string(),
});

const finalMetricsWire = z.strictObject({
  train_acc: accuracy,
  val_acc: accuracy,
  train_loss: optionalMetric,
  val_loss: optionalMetric,
  weight_norm: optionalMetric,
});

const curvePointWire = z.strictObject({
  step,
  train_acc: accuracy,
  val_acc: accuracy,
  train_loss: optionalMetric,
  val_loss: optionalMetric,
  weight_norm: optionalMetric,
});

/**
 * The trial's outcome, in snake_case. Only `status` is required: whatever
 * the program leaves out the host fills from the progress lines it saw
 * (curves, first steps at threshold, final metrics, steps).
 */
export const resultMessageSchema = z.strictObject({
  type: z.literal('result'),
  trial_id: trialId,
  status: trialStatusSchema,
  reason: z.string().optional(),
  steps: step.optional(),
  max_steps: z.number().int().positive().optional(),
  first_step_at_threshold: z.strictObject({ train: step.nullable(), val: step.nullable() }).optional(),
  final: finalMetricsWire.optional(),
  curves: z.array(curvePointWire).optional(),
  backend: z.string().optional(),
  extra: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).optional(),
});

export const messageSchema = z.discriminatedUnion('type', [
  progressMessageSchema,
  checkpointMessageSchema,
  logMessageSchema,
  resultMessageSchema,
]);

export type ProgressMessage = z.infer<typeof progressMessageSchema>;
export type CheckpointMessage = z.infer<typeof checkpointMessageSchema>;
export type LogMessage = z.infer<typeof logMessageSchema>;
export type ResultMessage = z.infer<typeof resultMessageSchema>;
export type Message = z.infer<typeof messageSchema>;

/** The JSON document in GROKMAP_PARAMS_FILE (and on stdin). */
export interface ParamsFile {
  protocol: typeof PROTOCOL_VERSION;
  trial_id: string;
  attempt: number;
  params: unknown;
  threshold: number;
  checkpoint_dir: string;
  resume: { step: number; path: string } | null;
  device: DeviceAssignment;
  /**
   * `pack` extension: several trials of one shape trained together by one
   * program, all writing to the shared `checkpoint_dir`. The top-level
   * `trial_id` then names the pack and `attempt` is its trials' highest.
   */
  trials?: { trial_id: string; attempt: number; params: unknown; resume: ParamsFile['resume'] }[];
}

const MAX_QUOTED_CHARS = 200;

/** A line shortened for an error message, so a runaway print cannot flood an outcome. */
export function quoteLine(line: string): string {
  const shown = line.length > MAX_QUOTED_CHARS ? `${line.slice(0, MAX_QUOTED_CHARS)}…` : line;
  return JSON.stringify(shown);
}

export type ParsedLine = { ok: true; message: Message } | { ok: false; error: string };

/**
 * Parse one stdout line strictly: it must be a JSON object of a known type
 * with valid fields. Anything else (a stray print, a typo, NaN) is a
 * protocol error naming the line number and quoting the line.
 */
export function parseLine(line: string, lineNumber: number): ParsedLine {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, error: `stdout line ${lineNumber} is not JSON: ${quoteLine(line)}` };
  }
  const parsed = messageSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 3)
      .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    return {
      ok: false,
      error: `stdout line ${lineNumber} is not a valid message (${problems}): ${quoteLine(line)}`,
    };
  }
  return { ok: true, message: parsed.data };
}

export function progressToReport(m: ProgressMessage): ProgressReport {
  return {
    step: m.step,
    ...(m.train_acc !== undefined ? { trainAcc: m.train_acc } : {}),
    ...(m.val_acc !== undefined ? { valAcc: m.val_acc } : {}),
    ...(m.train_loss !== undefined ? { trainLoss: m.train_loss } : {}),
    ...(m.val_loss !== undefined ? { valLoss: m.val_loss } : {}),
    ...(m.weight_norm !== undefined ? { weightNorm: m.weight_norm } : {}),
  };
}

function metrics(m: z.infer<typeof finalMetricsWire>): FinalMetrics {
  return {
    trainAcc: m.train_acc,
    valAcc: m.val_acc,
    ...(m.train_loss !== undefined ? { trainLoss: m.train_loss } : {}),
    ...(m.val_loss !== undefined ? { valLoss: m.val_loss } : {}),
    ...(m.weight_norm !== undefined ? { weightNorm: m.weight_norm } : {}),
  };
}

export function curvePointFromWire(p: z.infer<typeof curvePointWire>): CurvePoint {
  return { step: p.step, ...metrics(p) };
}

/**
 * Merge a result message over what the host recorded from progress lines:
 * the program's fields win; the host's fill the gaps.
 */
export function outcomeFromResult(
  result: ResultMessage,
  recorded: TrialOutcome,
  threshold: number,
): TrialOutcome {
  let fromCurves: Pick<TrialOutcome, 'curves' | 'firstStepAtThreshold'> | undefined;
  if (result.curves) {
    // Bounded and log-thinned like any other trainer's curve, whatever the program sent.
    const recorder = new CurveRecorder(threshold);
    for (const p of [...result.curves].sort((a, b) => a.step - b.step))
      recorder.record(curvePointFromWire(p));
    fromCurves = { curves: recorder.curve(), firstStepAtThreshold: recorder.firstStepAtThreshold };
  }
  return {
    ...recorded,
    ...fromCurves,
    status: result.status,
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
    ...(result.steps !== undefined ? { steps: result.steps } : {}),
    ...(result.max_steps !== undefined ? { maxSteps: result.max_steps } : {}),
    ...(result.first_step_at_threshold ? { firstStepAtThreshold: result.first_step_at_threshold } : {}),
    ...(result.final ? { final: metrics(result.final) } : {}),
    ...(result.backend !== undefined ? { backend: result.backend } : {}),
    ...(result.extra !== undefined ? { extra: result.extra } : {}),
  };
}
