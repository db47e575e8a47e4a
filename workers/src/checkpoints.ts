import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Checkpoint, CheckpointStore } from '@grokmap/plugin-sdk';

/**
 * Checkpoints as files under the worker's checkpoint directory (shared
 * storage on a cluster, so a retry on another machine finds them). Writes
 * are atomic (temp file + rename); the two newest are kept.
 */
export function safeFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

const FILE_PATTERN = /^step-(\d{12})\.ckpt$/;

export class FileCheckpointStore implements CheckpointStore {
  private readonly dir: string;
  lastUri: string | undefined;

  constructor(
    root: string,
    trialId: string,
    /** A checkpoint named by an earlier attempt's heartbeat; preferred over a directory scan. */
    private readonly hintUri?: string,
    private readonly onSaved?: (uri: string, step: number) => void,
  ) {
    this.dir = path.join(root, safeFileName(trialId));
  }

  async save(step: number, data: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `step-${String(step).padStart(12, '0')}.ckpt`);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, file);
    this.lastUri = pathToFileURL(file).href;
    this.onSaved?.(this.lastUri, step);
    await this.prune(2);
  }

  async restore(): Promise<Checkpoint | undefined> {
    if (this.hintUri) {
      const hinted = await readCheckpointUri(this.hintUri);
      if (hinted) return hinted;
    }
    const files = await this.list();
    const latest = files[files.length - 1];
    return latest ? readCheckpointUri(pathToFileURL(path.join(this.dir, latest)).href) : undefined;
  }

  private async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => FILE_PATTERN.test(f)).sort();
    } catch {
      return [];
    }
  }

  private async prune(keep: number): Promise<void> {
    const files = await this.list();
    for (const f of files.slice(0, Math.max(0, files.length - keep)))
      await rm(path.join(this.dir, f), { force: true });
  }
}

async function readCheckpointUri(uri: string): Promise<Checkpoint | undefined> {
  if (!uri.startsWith('file:')) return undefined;
  const file = fileURLToPath(uri);
  const match = FILE_PATTERN.exec(path.basename(file));
  if (!match) return undefined;
  try {
    return { step: Number(match[1]), data: new Uint8Array(await readFile(file)) };
  } catch {
    return undefined;
  }
}
