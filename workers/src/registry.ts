import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { commandTrainerConfigs, commandTrainerEntrySchema } from '@grokmap/plugin-command';
import type { AnyTrainer } from '@grokmap/plugin-sdk';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Which trainers an installation hosts. This is worker configuration, never
 * part of a sweep spec: a spec names a trainer and gives parameters; it can
 * never name a module or command to run.
 */
export const workerConfigSchema = z.strictObject({
  /** Extra trainer plugins: a path (relative to the config file) or an installed package name. */
  plugins: z.array(z.strictObject({ module: z.string().min(1) })).default([]),
  /**
   * External programs registered as trainers through the command plugin: the
   * same entries as a command trainers file (PROTOCOL.md), paths relative to
   * the config file's folder.
   */
  command_trainers: z.array(commandTrainerEntrySchema).default([]),
});
export type WorkerConfig = z.output<typeof workerConfigSchema> & { baseDir: string };

/** The worker config from `GROKMAP_WORKER_CONFIG`, else `grokmap.config.yaml` in the current directory, else empty. */
export function loadWorkerConfig(file?: string, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const chosen =
    file ??
    env.GROKMAP_WORKER_CONFIG ??
    (existsSync('grokmap.config.yaml') ? 'grokmap.config.yaml' : undefined);
  if (!chosen) return { plugins: [], command_trainers: [], baseDir: process.cwd() };
  const resolved = path.resolve(chosen);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(resolved, 'utf8'));
  } catch (err) {
    throw new Error(`worker config ${resolved}: ${(err as Error).message}`);
  }
  const parsed = workerConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`)
      .join('; ');
    throw new Error(`worker config ${resolved}: ${problems}`);
  }
  return { ...parsed.data, baseDir: path.dirname(resolved) };
}

type Loader = () => Promise<AnyTrainer>;

function defaultExport(mod: unknown, from: string): AnyTrainer {
  const candidate = (mod as { default?: unknown }).default ?? mod;
  const t = candidate as Partial<AnyTrainer>;
  if (!t || typeof t.name !== 'string' || typeof t.train !== 'function' || !t.params) {
    throw new Error(`${from} does not default-export a trainer (defineTrainer({...}))`);
  }
  return t as AnyTrainer;
}

const BUILT_IN: Record<string, Loader> = {
  synthetic: async () =>
    defaultExport(await import('@grokmap/plugin-synthetic'), '@grokmap/plugin-synthetic'),
  'modular-arithmetic': async () =>
    defaultExport(await import('@grokmap/plugin-modular-arithmetic'), '@grokmap/plugin-modular-arithmetic'),
};

export class TrainerRegistry {
  private readonly loaders = new Map<string, Loader>();
  private readonly cache = new Map<string, Promise<AnyTrainer>>();

  constructor(config: WorkerConfig = loadWorkerConfig()) {
    for (const [name, loader] of Object.entries(BUILT_IN)) this.loaders.set(name, loader);
    for (const plugin of config.plugins) {
      // The plugin's own name is known only once loaded; register lazily under a placeholder.
      this.pending.push(async () => {
        const spec = resolvePluginModule(plugin.module, config.baseDir);
        const trainer = defaultExport(await import(spec), plugin.module);
        this.loaders.set(trainer.name, async () => trainer);
      });
    }
    if (config.command_trainers.length > 0) {
      const commands = commandTrainerConfigs(
        { trainers: config.command_trainers },
        config.baseDir,
        'command_trainers',
      );
      for (const cmd of commands) {
        this.loaders.set(cmd.name, async () => {
          const { createCommandTrainer } = await import('@grokmap/plugin-command');
          return createCommandTrainer(cmd);
        });
      }
    }
  }

  private pending: (() => Promise<void>)[] = [];

  private async settle(): Promise<void> {
    const work = this.pending;
    this.pending = [];
    for (const load of work) await load();
  }

  async names(): Promise<string[]> {
    await this.settle();
    return [...this.loaders.keys()].sort();
  }

  /** The trainer registered under `name`, or undefined. Plugin import errors propagate with the plugin named. */
  async get(name: string): Promise<AnyTrainer | undefined> {
    await this.settle();
    const loader = this.loaders.get(name);
    if (!loader) return undefined;
    let p = this.cache.get(name);
    if (!p) {
      p = loader().catch((err: unknown) => {
        this.cache.delete(name);
        throw new Error(`trainer '${name}' failed to load: ${(err as Error).message}`);
      });
      this.cache.set(name, p);
    }
    return p;
  }
}

/**
 * What `import()` should load for a worker config's `plugins[].module`:
 *
 * - a path (`./x`, `../x`, `/x`) resolves from the config file's folder; a
 *   folder is a package, loaded through its package.json entry point;
 * - a package name resolves from the config file's folder (its
 *   `node_modules` and those above it), then from the current directory,
 *   then as the worker's own dependency — not from this source file's
 *   location, so a package installed next to the config is found.
 */
export function resolvePluginModule(module: string, baseDir: string): string {
  if (module.startsWith('.') || path.isAbsolute(module)) {
    const target = path.resolve(baseDir, module);
    const file = isDirectory(target) ? packageEntry(target) : target;
    return pathToFileURL(file).href;
  }
  const [scopeOrName, maybeName, ...subpath] = module.split('/');
  const packageName = scopeOrName?.startsWith('@') ? `${scopeOrName}/${maybeName}` : scopeOrName!;
  const rest = scopeOrName?.startsWith('@') ? subpath : [maybeName, ...subpath].filter(Boolean);
  for (const start of [baseDir, process.cwd()]) {
    const dir = findPackageDir(packageName, start);
    if (dir === undefined) continue;
    const file = rest.length > 0 ? path.join(dir, ...(rest as string[])) : packageEntry(dir);
    return pathToFileURL(file).href;
  }
  return module;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function findPackageDir(name: string, start: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

const ENTRY_CONDITIONS = ['import', 'node', 'module', 'default'];

/** The ESM entry of the package in `dir`: `exports["."]` (import/node/default), else `module`/`main`, else index. */
function packageEntry(dir: string): string {
  const manifest = path.join(dir, 'package.json');
  if (!existsSync(manifest)) {
    const index = ['index.js', 'index.mjs', 'index.ts'].map((f) => path.join(dir, f)).find(existsSync);
    if (index) return index;
    throw new Error(`plugin folder ${dir} has neither a package.json nor an index file`);
  }
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
    exports?: unknown;
    module?: string;
    main?: string;
  };
  const fromExports = exportTarget(pkg.exports);
  const relative = fromExports ?? pkg.module ?? pkg.main ?? 'index.js';
  return path.resolve(dir, relative);
}

function exportTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (Array.isArray(exports)) {
    for (const e of exports) {
      const t = exportTarget(e);
      if (t) return t;
    }
    return undefined;
  }
  if (exports && typeof exports === 'object') {
    const map = exports as Record<string, unknown>;
    if ('.' in map) return exportTarget(map['.']);
    if (Object.keys(map).some((k) => k.startsWith('.'))) return undefined;
    for (const condition of ENTRY_CONDITIONS) {
      if (condition in map) {
        const t = exportTarget(map[condition]);
        if (t) return t;
      }
    }
  }
  return undefined;
}
