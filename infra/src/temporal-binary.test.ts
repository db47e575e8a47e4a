import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureTemporalBinary, findTemporalBinary, temporalCacheDir } from './temporal-binary.js';

let root: string;
let home: string;
let cache: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'grokmap-bin-'));
  home = path.join(root, 'home');
  cache = path.join(root, 'cache');
  mkdirSync(home);
  mkdirSync(cache);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A fake `temporal` in `dir` (created), executable unless told otherwise. */
function fakeTemporal(dir: string, executable = true): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'temporal');
  writeFileSync(file, '#!/bin/sh\necho fake temporal\n');
  chmodSync(file, executable ? 0o755 : 0o644);
  return file;
}

/** An env that never reaches the real user cache (~/.cache/grokmap) or the machine's PATH. */
function envWith(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: '', GROKMAP_CACHE_DIR: cache, ...extra };
}

describe('findTemporalBinary', () => {
  it('an explicit GROKMAP_TEMPORAL_BIN wins over PATH, the home and the cache', () => {
    const explicit = fakeTemporal(path.join(root, 'explicit'));
    const onPath = fakeTemporal(path.join(root, 'path-a'));
    fakeTemporal(path.join(home, 'bin'));
    fakeTemporal(path.join(cache, 'bin'));
    const env = envWith({ GROKMAP_TEMPORAL_BIN: explicit, PATH: path.dirname(onPath) });
    expect(findTemporalBinary(home, env)).toBe(explicit);
  });

  it('a GROKMAP_TEMPORAL_BIN that is missing or not executable is skipped for PATH', () => {
    const onPath = fakeTemporal(path.join(root, 'path-a'));
    const notExec = fakeTemporal(path.join(root, 'explicit'), false);
    expect(
      findTemporalBinary(home, envWith({ GROKMAP_TEMPORAL_BIN: notExec, PATH: path.dirname(onPath) })),
    ).toBe(onPath);
    const missing = path.join(root, 'nowhere', 'temporal');
    expect(
      findTemporalBinary(home, envWith({ GROKMAP_TEMPORAL_BIN: missing, PATH: path.dirname(onPath) })),
    ).toBe(onPath);
  });

  it('PATH comes before the home and the cache, in PATH order, skipping non-executables and directories', () => {
    const notExec = fakeTemporal(path.join(root, 'path-a'), false);
    const dirNamedTemporal = path.join(root, 'path-b', 'temporal');
    mkdirSync(dirNamedTemporal, { recursive: true });
    const first = fakeTemporal(path.join(root, 'path-c'));
    const second = fakeTemporal(path.join(root, 'path-d'));
    fakeTemporal(path.join(home, 'bin'));
    fakeTemporal(path.join(cache, 'bin'));
    const PATH = [
      path.dirname(notExec),
      '',
      path.join(root, 'path-b'),
      path.join(root, 'empty-dir'),
      path.dirname(first),
      path.dirname(second),
    ].join(path.delimiter);
    expect(findTemporalBinary(home, envWith({ PATH }))).toBe(first);
  });

  it('without one on PATH, <home>/bin/temporal comes before the cache', () => {
    const inHome = fakeTemporal(path.join(home, 'bin'));
    fakeTemporal(path.join(cache, 'bin'));
    const emptyDir = path.join(root, 'empty');
    mkdirSync(emptyDir);
    expect(findTemporalBinary(home, envWith({ PATH: emptyDir }))).toBe(inHome);
  });

  it('a non-executable <home>/bin/temporal falls through to the cache', () => {
    fakeTemporal(path.join(home, 'bin'), false);
    const inCache = fakeTemporal(path.join(cache, 'bin'));
    expect(findTemporalBinary(home, envWith({}))).toBe(inCache);
  });

  it('finds nothing when no candidate is an executable file (and PATH may be unset)', () => {
    fakeTemporal(path.join(home, 'bin'), false);
    fakeTemporal(path.join(cache, 'bin'), false);
    expect(findTemporalBinary(home, envWith({}))).toBeUndefined();
    expect(findTemporalBinary(home, { GROKMAP_CACHE_DIR: cache })).toBeUndefined();
  });
});

describe('temporalCacheDir', () => {
  it('is GROKMAP_CACHE_DIR when set, else ~/.cache/grokmap', () => {
    expect(temporalCacheDir({ GROKMAP_CACHE_DIR: '/some/cache' })).toBe('/some/cache');
    expect(temporalCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'grokmap'));
  });
});

describe('ensureTemporalBinary', () => {
  it('returns a found binary without building or downloading one', async () => {
    const inHome = fakeTemporal(path.join(home, 'bin'));
    const logger = pino({ enabled: false });
    // A found binary short-circuits: no `go install`, no SDK download (either would take minutes here).
    await expect(ensureTemporalBinary(home, logger, envWith({}))).resolves.toBe(inHome);
  });

  it('builds with the go found on the PATH it is given, into the cache', async () => {
    // A stand-in Go toolchain: `go version` works, `go install` drops a temporal into $GOBIN.
    const goDir = path.join(root, 'go-bin');
    mkdirSync(goDir);
    writeFileSync(
      path.join(goDir, 'go'),
      [
        '#!/bin/sh',
        'case "$1" in',
        '  version) echo "go version go0.0 stand-in"; exit 0 ;;',
        `  install) /bin/mkdir -p "$GOBIN" && printf '#!/bin/sh\necho built\n' > "$GOBIN/temporal" && /bin/chmod 755 "$GOBIN/temporal"; exit $? ;;`,
        'esac',
        'exit 1',
        '',
      ].join('\n'),
    );
    chmodSync(path.join(goDir, 'go'), 0o755);
    const logger = pino({ enabled: false });
    await expect(ensureTemporalBinary(home, logger, envWith({ PATH: goDir }))).resolves.toBe(
      path.join(cache, 'bin', 'temporal'),
    );
  });
});
