import { lstat, mkdir, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { curvePointSchema } from '@grokmap/plugin-sdk';
import { z } from 'zod';

/**
 * A program's checkpoint (one file, or a directory of files) packed into the
 * opaque bytes the SDK's CheckpointStore keeps, so that a retry on another
 * worker can unpack it into its own checkpoint directory and resume.
 *
 * Layout: the magic line `GROKMAP-CKPT 1\n`, one JSON header line, then the
 * files' bytes back to back in header order. The header also carries the
 * host's curve so far, so a resumed trial's outcome has its whole curve.
 */
const MAGIC = 'GROKMAP-CKPT 1\n';

export const recordedCurveSchema = z.object({
  points: z.array(curvePointSchema),
  firstTrain: z.number().int().nonnegative().nullable(),
  firstVal: z.number().int().nonnegative().nullable(),
});
export type RecordedCurve = z.infer<typeof recordedCurveSchema>;

const headerSchema = z.object({
  step: z.number().int().nonnegative(),
  /** The checkpoint's name inside the checkpoint dir (a file or a directory). */
  name: z.string().min(1),
  kind: z.enum(['file', 'dir']),
  files: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative() })),
  curve: recordedCurveSchema,
});
type Header = z.infer<typeof headerSchema>;

export class CheckpointArchiveError extends Error {}

/** Relative paths that stay inside their root: no absolute paths, no `..`. */
function safeRelative(path: string): boolean {
  if (path === '' || isAbsolute(path)) return false;
  const n = normalize(path);
  return n !== '..' && !n.startsWith(`..${sep}`) && !n.split(sep).includes('..');
}

async function listFiles(root: string, dir = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(root, dir), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = dir ? join(dir, e.name) : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, rel)));
    else if (e.isFile()) out.push(rel);
    else throw new CheckpointArchiveError(`checkpoint entry ${rel} is neither a file nor a directory`);
  }
  return out;
}

/**
 * Pack the checkpoint at `path` (which must lie inside `checkpointDir`).
 * Symbolic links are refused: a checkpoint is the program's own data.
 */
export async function packCheckpoint(args: {
  checkpointDir: string;
  path: string;
  step: number;
  curve: RecordedCurve;
  maxBytes: number;
}): Promise<Uint8Array> {
  const full = isAbsolute(args.path) ? normalize(args.path) : join(args.checkpointDir, args.path);
  const name = relative(args.checkpointDir, full);
  if (!safeRelative(name)) {
    throw new CheckpointArchiveError(
      `checkpoint path ${JSON.stringify(args.path)} is outside the checkpoint dir`,
    );
  }
  let stat: Awaited<ReturnType<typeof lstat>>;
  try {
    stat = await lstat(full);
  } catch {
    throw new CheckpointArchiveError(`checkpoint path ${JSON.stringify(args.path)} does not exist`);
  }
  // Resolve links in the path's parents too: the real location must still be inside.
  const realRoot = await realpath(args.checkpointDir);
  const realName = relative(realRoot, await realpath(full));
  if (!safeRelative(realName)) {
    throw new CheckpointArchiveError(
      `checkpoint path ${JSON.stringify(args.path)} is outside the checkpoint dir`,
    );
  }
  let kind: Header['kind'];
  let paths: string[];
  if (stat.isFile()) {
    kind = 'file';
    paths = [''];
  } else if (stat.isDirectory()) {
    kind = 'dir';
    paths = await listFiles(full);
  } else {
    throw new CheckpointArchiveError(
      `checkpoint path ${JSON.stringify(args.path)} is not a file or directory`,
    );
  }
  const blobs: Uint8Array[] = [];
  let total = 0;
  for (const p of paths) {
    const data = await readFile(p ? join(full, p) : full);
    total += data.byteLength;
    if (total > args.maxBytes) {
      throw new CheckpointArchiveError(
        `checkpoint ${JSON.stringify(args.path)} exceeds ${args.maxBytes} bytes`,
      );
    }
    blobs.push(data);
  }
  const header: Header = {
    step: args.step,
    name,
    kind,
    files: paths.map((p, i) => ({ path: p, size: blobs[i]!.byteLength })),
    curve: args.curve,
  };
  const head = new TextEncoder().encode(`${MAGIC}${JSON.stringify(header)}\n`);
  const out = new Uint8Array(head.byteLength + total);
  out.set(head, 0);
  let offset = head.byteLength;
  for (const b of blobs) {
    out.set(b, offset);
    offset += b.byteLength;
  }
  return out;
}

/** Unpack an archive into `checkpointDir`; returns what the program needs to resume. */
export async function unpackCheckpoint(
  data: Uint8Array,
  checkpointDir: string,
): Promise<{ step: number; path: string; curve: RecordedCurve }> {
  const magic = new TextEncoder().encode(MAGIC);
  if (data.byteLength < magic.byteLength || !magic.every((b, i) => data[i] === b)) {
    throw new CheckpointArchiveError('stored checkpoint was not written by the command plugin');
  }
  const headerEnd = data.indexOf(0x0a, magic.byteLength);
  if (headerEnd < 0) throw new CheckpointArchiveError('stored checkpoint has no header');
  let header: Header;
  try {
    header = headerSchema.parse(
      JSON.parse(new TextDecoder().decode(data.subarray(magic.byteLength, headerEnd))),
    );
  } catch (err) {
    throw new CheckpointArchiveError(`stored checkpoint header is invalid: ${(err as Error).message}`);
  }
  if (!safeRelative(header.name)) throw new CheckpointArchiveError('stored checkpoint has an unsafe name');
  const target = join(checkpointDir, header.name);
  let offset = headerEnd + 1;
  for (const f of header.files) {
    if (header.kind === 'dir' ? !safeRelative(f.path) : f.path !== '') {
      throw new CheckpointArchiveError(`stored checkpoint has an unsafe entry ${JSON.stringify(f.path)}`);
    }
    if (offset + f.size > data.byteLength) throw new CheckpointArchiveError('stored checkpoint is truncated');
    const dest = f.path ? join(target, f.path) : target;
    await mkdir(join(dest, '..'), { recursive: true });
    await writeFile(dest, data.subarray(offset, offset + f.size));
    offset += f.size;
  }
  if (offset !== data.byteLength) throw new CheckpointArchiveError('stored checkpoint has trailing bytes');
  if (header.kind === 'dir') await mkdir(target, { recursive: true });
  return { step: header.step, path: target, curve: header.curve };
}
