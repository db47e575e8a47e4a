import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

const run = promisify(execFile);

/** The Temporal CLI version we build with Go when no binary is found (it has no replace directives). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** A shared cache outside any checkout, so CI and every clone reuse one build. */
export function temporalCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.GROKMAP_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'grokmap');
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Candidates in order: explicit env, PATH, the project's `.grokmap/bin`, the user cache. */
export function findTemporalBinary(
  grokmapHomeDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const candidates: string[] = [];
  if (env.GROKMAP_TEMPORAL_BIN) candidates.push(env.GROKMAP_TEMPORAL_BIN);
  for (const dir of (env.PATH ?? '').split(path.delimiter))
    if (dir) candidates.push(path.join(dir, 'temporal'));
  candidates.push(path.join(grokmapHomeDir, 'bin', 'temporal'));
  candidates.push(path.join(temporalCacheDir(env), 'bin', 'temporal'));
  return candidates.find(isExecutable);
}

/** Whether `go` runs on the PATH of `env` (the one `go install` will then use). */
async function hasGo(env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await run('go', ['version'], { env: { ...process.env, ...env } });
    return true;
  } catch {
    return false;
  }
}

/** Build the real dev server from source with the Go toolchain into the user cache. */
async function goInstallTemporal(logger: Logger, env: NodeJS.ProcessEnv): Promise<string> {
  const bin = path.join(temporalCacheDir(env), 'bin');
  mkdirSync(bin, { recursive: true });
  logger.info(
    { version: TEMPORAL_CLI_VERSION, bin },
    'building the temporal CLI with go install (first time only)',
  );
  await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, ...env, GOBIN: bin, GOFLAGS: '-mod=mod' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60 * 1000,
  });
  return path.join(bin, 'temporal');
}

/** Let the Temporal SDK download its CLI build (needs internet), then keep the binary in `.grokmap/bin`. */
async function sdkDownloadTemporal(grokmapHomeDir: string, logger: Logger): Promise<string> {
  const downloadDir = path.join(grokmapHomeDir, 'bin', 'sdk-download');
  mkdirSync(downloadDir, { recursive: true });
  logger.info({ downloadDir }, 'downloading the temporal CLI through the Temporal SDK');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir } },
  });
  await env.teardown();
  const found = findFile(downloadDir, 'temporal');
  if (!found) throw new Error(`the SDK download finished but no temporal binary is under ${downloadDir}`);
  return found;
}

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = findFile(full, name);
      if (inner) return inner;
    } else if (entry.name === name && isExecutable(full)) return full;
  }
  return undefined;
}

/**
 * Find the temporal binary, or get one: `go install` where Go is present
 * (how CI here gets it; cached in ~/.cache/grokmap), else the SDK's own
 * download. Fails with every route that was tried and why.
 */
export async function ensureTemporalBinary(
  grokmapHomeDir: string,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const found = findTemporalBinary(grokmapHomeDir, env);
  if (found) return found;
  const failures: string[] = [];
  if (await hasGo(env)) {
    try {
      return await goInstallTemporal(logger, env);
    } catch (err) {
      failures.push(
        `go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}: ${errorText(err)}`,
      );
    }
  } else {
    failures.push('go install: no Go toolchain on PATH');
  }
  try {
    return await sdkDownloadTemporal(grokmapHomeDir, logger);
  } catch (err) {
    failures.push(`Temporal SDK download: ${errorText(err)}`);
  }
  throw new Error(
    `no temporal binary found on PATH, in ${path.join(grokmapHomeDir, 'bin')} or ${path.join(temporalCacheDir(env), 'bin')}, and none could be obtained:\n  - ${failures.join('\n  - ')}\nInstall the Temporal CLI or set GROKMAP_TEMPORAL_ADDRESS to a running server.`,
  );
}

function errorText(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim().split('\n').slice(-3).join(' ') || e.message || String(err)).slice(0, 500);
}
