import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointArchiveError, packCheckpoint, unpackCheckpoint } from './checkpoint-archive.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grokmap-ckpt-archive-'));
  await mkdir(join(dir, 'from'));
  await mkdir(join(dir, 'to'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const curve = { points: [{ step: 5, trainAcc: 0.5, valAcc: 0.25 }], firstTrain: null, firstVal: null };
const pack = (path: string, maxBytes = 1 << 20) =>
  packCheckpoint({ checkpointDir: join(dir, 'from'), path, step: 5, curve, maxBytes });

describe('checkpoint archive', () => {
  it('round-trips a single binary file with the step and curve', async () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) % 256);
    await writeFile(join(dir, 'from', 'ckpt.npz'), bytes);
    const restored = await unpackCheckpoint(await pack('ckpt.npz'), join(dir, 'to'));
    expect(restored).toEqual({ step: 5, path: join(dir, 'to', 'ckpt.npz'), curve });
    expect(new Uint8Array(await readFile(restored.path))).toEqual(bytes);
  });

  it('round-trips a directory tree, accepting an absolute path inside the checkpoint dir', async () => {
    await mkdir(join(dir, 'from', 'state', 'shard'), { recursive: true });
    await writeFile(join(dir, 'from', 'state', 'meta.json'), '{"step":5}');
    await writeFile(join(dir, 'from', 'state', 'shard', '0.bin'), 'zero');
    await mkdir(join(dir, 'from', 'state', 'empty'));
    const restored = await unpackCheckpoint(await pack(join(dir, 'from', 'state')), join(dir, 'to'));
    expect(restored.path).toBe(join(dir, 'to', 'state'));
    expect(await readFile(join(restored.path, 'meta.json'), 'utf8')).toBe('{"step":5}');
    expect(await readFile(join(restored.path, 'shard', '0.bin'), 'utf8')).toBe('zero');
  });

  it('refuses paths that leave the checkpoint dir, also through a symbolic link', async () => {
    await writeFile(join(dir, 'secret'), 'no');
    await expect(pack('../secret')).rejects.toThrow(CheckpointArchiveError);
    await expect(pack(join(dir, 'secret'))).rejects.toThrow(/outside/);
    await symlink(dir, join(dir, 'from', 'link'));
    await expect(pack('link/secret')).rejects.toThrow(/outside/);
  });

  it('refuses a checkpoint over the size limit', async () => {
    await writeFile(join(dir, 'from', 'big'), new Uint8Array(2048));
    await expect(pack('big', 1024)).rejects.toThrow(/exceeds 1024 bytes/);
  });

  it('refuses foreign, truncated or path-escaping archives', async () => {
    await writeFile(join(dir, 'from', 'f'), 'abcdef');
    const good = await pack('f');
    const to = join(dir, 'to');
    await expect(unpackCheckpoint(new TextEncoder().encode('PK\u0003\u0004'), to)).rejects.toThrow(
      /not written by/,
    );
    await expect(unpackCheckpoint(good.subarray(0, good.byteLength - 2), to)).rejects.toThrow(/truncated/);
    const evil = new TextDecoder().decode(good).replace('"name":"f"', '"name":"../f"');
    await expect(unpackCheckpoint(new TextEncoder().encode(evil), to)).rejects.toThrow(/unsafe/);
  });
});
