import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig, resolvePluginModule, TrainerRegistry } from './registry.js';

function packageAt(dir: string, manifest: Record<string, unknown>, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
}

const TRAINER_JS = (name: string) =>
  `export default { name: '${name}', version: '1.0.0', params: { safeParse: (v) => ({ success: true, data: v }) }, async train() { throw new Error('unused'); } };\n`;

describe('plugin modules in the worker config', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'grokmap-registry-'));
  const configDir = path.join(root, 'etc');
  mkdirSync(configDir, { recursive: true });

  it('resolves a package name from node_modules next to (or above) the config, through its exports', () => {
    packageAt(
      path.join(root, 'node_modules', '@acme', 'trainer'),
      { name: '@acme/trainer', exports: { '.': { require: './cjs.cjs', import: './esm/index.js' } } },
      { 'esm/index.js': TRAINER_JS('acme') },
    );
    expect(resolvePluginModule('@acme/trainer', configDir)).toBe(
      pathToFileURL(path.join(root, 'node_modules', '@acme', 'trainer', 'esm', 'index.js')).href,
    );
  });

  it('loads a package folder given as a path through its main entry', () => {
    packageAt(path.join(root, 'local-plugin'), { name: 'local', main: 'lib/main.js' }, {});
    expect(resolvePluginModule('../local-plugin', configDir)).toBe(
      pathToFileURL(path.join(root, 'local-plugin', 'lib', 'main.js')).href,
    );
  });

  it('leaves a name it cannot find to the worker’s own resolution', () => {
    expect(resolvePluginModule('no-such-plugin-package', configDir)).toBe('no-such-plugin-package');
  });

  it('registers the loaded plugin under its own name', async () => {
    packageAt(
      path.join(root, 'node_modules', 'outside-plugin'),
      { name: 'outside-plugin', type: 'module' },
      {
        'index.js': TRAINER_JS('outside'),
      },
    );
    const config = path.join(configDir, 'grokmap.config.yaml');
    writeFileSync(config, 'plugins:\n  - module: outside-plugin\n');
    const registry = new TrainerRegistry(loadWorkerConfig(config));
    expect(await registry.names()).toContain('outside');
    expect((await registry.get('outside'))?.version).toBe('1.0.0');
  });
});
