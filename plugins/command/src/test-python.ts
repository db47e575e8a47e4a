import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Python the command plugin's tests run trainers with: the project venv
 * that scripts/ensure-python.sh creates (numpy from examples/requirements.txt).
 * Test support only; not exported from the package.
 */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function projectPython(): { python?: string; problem?: string } {
  try {
    const out = execFileSync(join(repoRoot, 'plugins/command/scripts/ensure-python.sh'), {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { python: out.trim().split('\n').pop()! };
  } catch (err) {
    return {
      problem: `cannot provide python with numpy (plugins/command/scripts/ensure-python.sh): ${(err as Error).message}`,
    };
  }
}

export function canImport(python: string, module: string): boolean {
  return spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether python tests run here: with a python, always; without one, only
 * in CI, where they then fail loudly instead of being skipped.
 */
export function runPythonTests(python: string | undefined): boolean {
  return python !== undefined || process.env.CI !== undefined;
}
