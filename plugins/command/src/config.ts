import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import type { AnyTrainer } from '@grokmap/plugin-sdk';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type CommandTrainerConfig, createCommandTrainer } from './command-trainer.js';
import { jsonSchemaLiteSchema, jsonSchemaLiteToZod } from './json-schema-lite.js';

/**
 * The worker-side configuration of external trainers: the only place a
 * program, its arguments and its environment can come from. A sweep spec
 * can name one of these trainers and give it parameters; it can never name
 * a command.
 *
 * ```yaml
 * trainers:
 *   - name: numpy-modular
 *     program: .grokmap/venv/bin/python
 *     args: [examples/numpy_modular.py]
 *     env: { OPENBLAS_NUM_THREADS: "1" }
 *     cwd: .                      # relative to this file; the default
 *     grace_ms: 10000
 *     params_schema:              # optional JSON-schema-lite; omitted: any object
 *       type: object
 *       properties: { p: { type: integer, minimum: 2 } }
 *     pack:                       # optional: the program trains packs of trials
 *       max_trials: 16
 *       shape_keys: [p]           # trials share a process only if these are equal
 * ```
 */
export const commandTrainerEntrySchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, "lower-case letters, digits and '-'"),
    version: z.string().optional(),
    description: z.string().optional(),
    program: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    inherit_env: z.boolean().default(true),
    cwd: z.string().optional(),
    grace_ms: z.number().int().nonnegative().optional(),
    timeout_ms: z.number().int().positive().optional(),
    max_checkpoint_bytes: z.number().int().positive().optional(),
    work_dir: z.string().optional(),
    params_schema: jsonSchemaLiteSchema.optional(),
    /** The program takes packs of trials (protocol extension `pack`). */
    pack: z
      .strictObject({
        max_trials: z.number().int().positive(),
        /** Parameters that must be equal for trials to share a process (what fixes the model's shape). */
        shape_keys: z.array(z.string().min(1)),
      })
      .optional(),
  })
  .superRefine((t, ctx) => {
    // A misspelt shape key would silently pack trials of different shapes together.
    const declared = t.params_schema?.properties;
    t.pack?.shape_keys.forEach((key, k) => {
      const path = ['pack', 'shape_keys', k];
      if (t.pack!.shape_keys.indexOf(key) !== k) {
        ctx.addIssue({ code: 'custom', path, message: `shape key "${key}" is listed twice` });
      } else if (declared && !Object.hasOwn(declared, key)) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `shape key "${key}" is not a parameter in params_schema`,
        });
      }
    });
  });

export const commandTrainersFileSchema = z
  .strictObject({ trainers: z.array(commandTrainerEntrySchema) })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.trainers.forEach((t, i) => {
      if (seen.has(t.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['trainers', i, 'name'],
          message: `duplicate trainer "${t.name}"`,
        });
      }
      seen.add(t.name);
    });
  });
export type CommandTrainersFile = z.infer<typeof commandTrainersFileSchema>;

export class CommandConfigError extends Error {}

/**
 * Turn a parsed config into command trainer configs. Relative `cwd` and
 * `work_dir` resolve from `baseDir` (the config file's folder); `cwd`
 * defaults to it. A `program` written as a relative path (with a `/`)
 * resolves from `cwd`; a bare name is looked up on PATH. `args` are passed
 * as they are, so the program sees them relative to its `cwd`.
 */
export function commandTrainerConfigs(
  input: unknown,
  baseDir: string,
  source = 'config',
): CommandTrainerConfig[] {
  const parsed = commandTrainersFileSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new CommandConfigError(`invalid command trainer config ${source}:\n${problems}`);
  }
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  return parsed.data.trainers.map((t) => {
    const cwd = at(t.cwd ?? '.');
    // A program given as a path (not a bare name looked up on PATH) is relative to cwd.
    const program = t.program.includes('/') && !isAbsolute(t.program) ? resolve(cwd, t.program) : t.program;
    return {
      name: t.name,
      ...(t.version !== undefined ? { version: t.version } : {}),
      ...(t.description !== undefined ? { description: t.description } : {}),
      program,
      args: t.args,
      env: t.env,
      inheritEnv: t.inherit_env,
      cwd,
      ...(t.grace_ms !== undefined ? { graceMs: t.grace_ms } : {}),
      ...(t.timeout_ms !== undefined ? { timeoutMs: t.timeout_ms } : {}),
      ...(t.max_checkpoint_bytes !== undefined ? { maxCheckpointBytes: t.max_checkpoint_bytes } : {}),
      ...(t.work_dir !== undefined ? { workDir: at(t.work_dir) } : {}),
      ...(t.params_schema !== undefined ? { paramsSchema: jsonSchemaLiteToZod(t.params_schema) } : {}),
      ...(t.pack !== undefined
        ? { pack: { maxTrials: t.pack.max_trials, shapeKeys: t.pack.shape_keys } }
        : {}),
    };
  });
}

/** Load a worker's command trainers from a JSON or YAML file. */
export async function loadCommandTrainers(configPath: string): Promise<AnyTrainer[]> {
  const path = resolve(configPath);
  const text = await readFile(path, 'utf8');
  let doc: unknown;
  try {
    doc = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new CommandConfigError(`cannot parse command trainer config ${path}: ${(err as Error).message}`);
  }
  return commandTrainerConfigs(doc, dirname(path), path).map(createCommandTrainer);
}
