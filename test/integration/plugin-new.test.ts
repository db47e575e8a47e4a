import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runConformance } from '@grokmap/plugin-sdk';
import { loadWorkerConfig, TrainerRegistry } from '@grokmap/workers';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT, runCli, syntheticSpec, tempDir, writeSpec } from '../support/harness.js';

/**
 * `grokmap plugin new` writes plugins whose own tests pass as generated, and
 * a worker loads them from its config: a TS plugin from a path, a Python
 * one as a command trainer, and a plugin installed as an npm package next
 * to the config (outside this workspace).
 */
const VITEST = path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const root = tempDir('plugin-new');
const env = {
  ...process.env,
  GROKMAP_HOME: tempDir('plugin-new-home'),
  // Validation never connects: a closed port makes any attempt fail loudly.
  GROKMAP_TEMPORAL_ADDRESS: '127.0.0.1:1',
  GROKMAP_DATABASE_URL: '',
};

function run(cmd: string, args: string[], cwd: string): { code: number | null; output: string } {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, output: `${r.stdout}\n${r.stderr}` };
}

function workerConfig(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, 'grokmap.config.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

describe('grokmap plugin new', () => {
  const tsDir = path.join(root, 'ts-plugin');
  const pyDir = path.join(root, 'py-plugin');

  it('scaffolds a TS plugin whose generated conformance tests pass', async () => {
    const created = await runCli(['plugin', 'new', 'scaffolded-ts', '--dir', tsDir], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(tsDir, 'package.json'), 'utf8')).exports).toEqual({
      '.': './src/index.ts',
    });
    const tests = run(process.execPath, [VITEST, 'run', '--root', tsDir], tsDir);
    expect(tests.output).toMatch(/3 passed/);
    expect(tests.code).toBe(0);
  });

  it('refuses to overwrite a folder that is not empty', async () => {
    const again = await runCli(['plugin', 'new', 'scaffolded-ts', '--dir', tsDir], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('loads the generated TS plugin from a path in the worker config and validates a spec with it', async () => {
    const dir = tempDir('plugin-path-config');
    const config = workerConfig(dir, { plugins: [{ module: path.relative(dir, tsDir) }] });
    const withConfig = { ...env, GROKMAP_WORKER_CONFIG: config };
    const spec = (name: string, fixed: Record<string, unknown>) =>
      writeSpec(dir, name, {
        ...syntheticSpec(name),
        trainer: 'scaffolded-ts',
        parameters: { lr: { values: [0.1, 0.5] }, seed: { values: [0, 1] } },
        fixed,
      });
    const good = await runCli(['sweep', 'validate', spec('good', { max_steps: 100 })], withConfig);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    // The plugin's strict schema is what refuses a typo: proof the spec was checked by the loaded plugin.
    const bad = await runCli(['sweep', 'validate', spec('typo', { max_step: 100 })], withConfig);
    expect(bad.code).toBe(2);
    expect(bad.stdout + bad.stderr).toMatch(/max_step/);
    // The registry loads it from the folder and it trains: the conformance kit on the loaded trainer.
    const trainer = await new TrainerRegistry(loadWorkerConfig(config)).get('scaffolded-ts');
    const report = await runConformance(trainer!, { params: { max_steps: 60, checkpoint_every: 20 } });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    // Without the config the trainer is unknown.
    const without = await runCli(['sweep', 'validate', spec('none', { max_steps: 100 })], env);
    expect(without.code).toBe(2);
    expect(without.stdout + without.stderr).toMatch(/unknown trainer 'scaffolded-ts'/);
  });

  it('scaffolds a Python command trainer whose generated tests pass and which keeps the contract', async () => {
    const created = await runCli(
      ['plugin', 'new', 'scaffolded-py', '--language', 'python', '--dir', pyDir],
      env,
    );
    expect(created.code).toBe(0);
    const tests = run('python3', ['-m', 'unittest', '-v'], pyDir);
    expect(tests.output).toMatch(/Ran 3 tests/);
    expect(tests.code).toBe(0);

    // The generated grokmap.config.yaml is a worker config: the registry hosts the trainer from it.
    const registry = new TrainerRegistry(loadWorkerConfig(path.join(pyDir, 'grokmap.config.yaml')));
    const trainer = await registry.get('scaffolded-py');
    expect(trainer).toBeDefined();
    const report = await runConformance(trainer!, {
      params: { max_steps: 60, checkpoint_every: 20 },
      invalidParams: [{ lr: -1 }],
    });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('loads a plugin installed as an npm package next to the worker config, outside the workspace', async () => {
    const dir = tempDir('plugin-npm');
    const pkg = path.join(dir, 'node_modules', 'grokmap-plugin-outside');
    mkdirSync(pkg, { recursive: true });
    // What an install puts there: the package and its dependency.
    symlinkSync(
      path.join(REPO_ROOT, 'workers', 'node_modules', 'zod'),
      path.join(dir, 'node_modules', 'zod'),
      'dir',
    );
    writeFileSync(
      path.join(pkg, 'package.json'),
      JSON.stringify({
        name: 'grokmap-plugin-outside',
        version: '1.0.0',
        type: 'module',
        exports: { '.': { import: './lib/index.js' } },
      }),
    );
    mkdirSync(path.join(pkg, 'lib'));
    writeFileSync(
      path.join(pkg, 'lib', 'index.js'),
      [
        "import { z } from 'zod';",
        'export default {',
        "  name: 'outside-trainer',",
        "  version: '1.0.0',",
        '  params: z.strictObject({ width: z.number().int().positive(), max_steps: z.number().int().positive() }),',
        "  async train() { throw new Error('not used by validation'); },",
        '};',
        '',
      ].join('\n'),
    );
    const config = workerConfig(dir, { plugins: [{ module: 'grokmap-plugin-outside' }] });
    const specDir = tempDir('plugin-npm-spec');
    const spec = writeSpec(specDir, 'outside', {
      ...syntheticSpec('outside'),
      trainer: 'outside-trainer',
      parameters: { width: { values: [1, 2] } },
      fixed: { max_steps: 10 },
    });
    // The CLI runs from the repository root, so the package resolves only from the config's folder.
    const validated = await runCli(['sweep', 'validate', spec], { ...env, GROKMAP_WORKER_CONFIG: config });
    expect(validated.stdout + validated.stderr).not.toMatch(/unknown trainer/);
    expect(validated.code).toBe(0);
    const registry = new TrainerRegistry(loadWorkerConfig(config));
    expect(await registry.names()).toContain('outside-trainer');
  });
});
