import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandTrainerConfig } from './command-trainer.js';

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

/**
 * examples/numpy_modular.py as a command trainer. One BLAS thread: the same
 * arithmetic on every run, so runs (resumed, packed) compare bit for bit.
 */
export function numpyExampleConfig(python: string): CommandTrainerConfig {
  return {
    name: 'numpy-modular',
    program: python,
    args: [join(repoRoot, 'examples/numpy_modular.py')],
    env: { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
    graceMs: 20_000,
  };
}
