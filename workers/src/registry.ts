import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
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
  /** External programs registered as trainers through the command plugin. */
  command_trainers: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z][a-z0-9-]*$/),
        program: z.string().min(1),
        args: z.array(z.string()).default([]),
        env: z.record(z.string(), z.string()).default({}),
        cwd: z.string().optional(),
        grace_ms: z.number().int().positive().optional(),
        description: z.string().optional(),
      }),
    )
    .default([]),
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
      const spec =
        plugin.module.startsWith('.') || path.isAbsolute(plugin.module)
          ? pathToFileURL(path.resolve(config.baseDir, plugin.module)).href
          : plugin.module;
      // The plugin's own name is known only once loaded; register lazily under a placeholder.
      this.pending.push(async () => {
        const trainer = defaultExport(await import(spec), plugin.module);
        this.loaders.set(trainer.name, async () => trainer);
      });
    }
    for (const cmd of config.command_trainers) {
      this.loaders.set(cmd.name, async () => {
        const { createCommandTrainer } = await import('@grokmap/plugin-command');
        return createCommandTrainer({
          name: cmd.name,
          program: cmd.program,
          args: cmd.args,
          env: cmd.env,
          ...(cmd.cwd ? { cwd: path.resolve(config.baseDir, cmd.cwd) } : {}),
          ...(cmd.grace_ms ? { graceMs: cmd.grace_ms } : {}),
          ...(cmd.description ? { description: cmd.description } : {}),
        }) as AnyTrainer;
      });
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
