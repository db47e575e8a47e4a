import type { CurvePoint } from '@grokmap/plugin-sdk';
import { z } from 'zod';

/**
 * Checkpoint bytes: "GMA1", a little-endian u32 header length, a UTF-8 JSON
 * header, zero padding to a multiple of 4, then every float32 array back to
 * back in header order. Weights, Adam moments and the Grokfast EMA are
 * stored bit-exact, so a resumed run continues the same trajectory.
 */
const MAGIC = 'GMA1';

const curvePoint = z.object({
  step: z.number(),
  trainAcc: z.number(),
  valAcc: z.number(),
  trainLoss: z.number().optional(),
  valLoss: z.number().optional(),
  weightNorm: z.number().optional(),
});

const headerSchema = z.object({
  fingerprint: z.string(),
  step: z.number().int().nonnegative(),
  rng: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  perm: z.array(z.number().int()).nullable(),
  cursor: z.number().int().nonnegative(),
  streakStart: z.number().int().nullable(),
  recorder: z.object({
    points: z.array(curvePoint),
    firstTrain: z.number().nullable(),
    firstVal: z.number().nullable(),
  }),
  arrays: z.array(
    z.object({ group: z.enum(['weights', 'm', 'v', 'ema']), shape: z.array(z.number().int()) }),
  ),
});

export type CheckpointHeader = z.infer<typeof headerSchema>;

export interface CheckpointContents {
  header: CheckpointHeader;
  groups: Record<'weights' | 'm' | 'v' | 'ema', Float32Array[]>;
}

export function encodeCheckpoint(header: CheckpointHeader, data: Float32Array[]): Uint8Array {
  if (data.length !== header.arrays.length) throw new Error('checkpoint header and data disagree');
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerEnd = 8 + json.length;
  const dataStart = Math.ceil(headerEnd / 4) * 4;
  const total = dataStart + data.reduce((n, d) => n + d.byteLength, 0);
  const bytes = new Uint8Array(total);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(4, json.length, true);
  bytes.set(json, 8);
  let off = dataStart;
  for (const d of data) {
    bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), off);
    off += d.byteLength;
  }
  return bytes;
}

export function decodeCheckpoint(bytes: Uint8Array): CheckpointContents {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) {
    throw new Error('not a modular-arithmetic checkpoint');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(4, true);
  const header = headerSchema.parse(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))));
  let off = Math.ceil((8 + len) / 4) * 4;
  const groups: CheckpointContents['groups'] = { weights: [], m: [], v: [], ema: [] };
  for (const a of header.arrays) {
    const n = a.shape.reduce((x, y) => x * y, 1);
    if (off + 4 * n > bytes.length) throw new Error('checkpoint truncated');
    // Copy into an aligned buffer: the input may sit at any byte offset.
    groups[a.group].push(new Float32Array(bytes.slice(off, off + 4 * n).buffer));
    off += 4 * n;
  }
  return { header, groups };
}

export type RecorderState = { points: CurvePoint[]; firstTrain: number | null; firstVal: number | null };
