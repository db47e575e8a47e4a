import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError } from '../context.js';

/** The workspace this CLI belongs to, its plugin templates and the protocol helpers it copies. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));
const PROTOCOL_HELPERS = path.join(REPO_ROOT, 'examples', 'grokmap_protocol.py');

export type PluginLanguage = 'ts' | 'python';

export interface ScaffoldOptions {
  name: string;
  language: PluginLanguage;
  /** Where the plugin goes; default `plugins/<name>` in this workspace (ts) or `./<name>` (python). */
  dir?: string;
  /** For ts: link the SDK, zod and vitest into the plugin's node_modules so its tests run without an install. */
  link?: boolean;
}

export interface ScaffoldResult {
  dir: string;
  files: string[];
  linked: string[];
}

/** Packages a generated TS plugin imports, linked from this workspace so it works before any install. */
const TS_LINKED_PACKAGES = ['@grokmap/plugin-sdk', 'zod', 'vitest'];

/**
 * Write a new trainer plugin from the templates under cli/templates: a TS
 * package (defineTrainer, a conformance test) or a Python command trainer
 * (trainer.py, the protocol helpers, a worker config entry, a unittest).
 * Refuses a target folder that exists and is not empty.
 */
export function scaffoldPlugin(opts: ScaffoldOptions): ScaffoldResult {
  if (!/^[a-z][a-z0-9-]*$/.test(opts.name)) {
    throw new CliError(`plugin name '${opts.name}' must be lower-case letters, digits and '-'`, 2);
  }
  const dir = path.resolve(
    opts.dir ??
      (opts.language === 'ts'
        ? path.join(REPO_ROOT, 'plugins', opts.name)
        : path.join(process.cwd(), opts.name)),
  );
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new CliError(`${dir} already exists and is not an empty folder`, 2);
  }
  // A package directly under plugins/ is a workspace member (pnpm-workspace.yaml); elsewhere it links the SDK.
  const inWorkspace =
    path.dirname(dir) === path.join(REPO_ROOT, 'plugins') && !path.basename(dir).startsWith('.');
  const sdkDir = path.join(REPO_ROOT, 'plugins', 'sdk');
  const values: Record<string, string> = {
    __PLUGIN_NAME__: opts.name,
    __PACKAGE_NAME__: inWorkspace ? `@grokmap/plugin-${opts.name}` : `grokmap-plugin-${opts.name}`,
    __SDK_DEPENDENCY__: inWorkspace ? 'workspace:*' : `link:${sdkDir}`,
    __MODULE_HINT__: dir,
    __DIR_HINT__: dir,
  };
  const templateDir = path.join(TEMPLATES, opts.language === 'ts' ? 'plugin-ts' : 'plugin-python');
  const files: string[] = [];
  for (const template of listFiles(templateDir)) {
    const relative = path.relative(templateDir, template).replace(/\.tmpl$/, '');
    const target = path.join(dir, relative);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, fill(readFileSync(template, 'utf8'), values));
    files.push(relative);
  }
  if (opts.language === 'python') {
    writeFileSync(path.join(dir, 'grokmap_protocol.py'), readFileSync(PROTOCOL_HELPERS));
    files.push('grokmap_protocol.py');
  }
  const linked = opts.language === 'ts' && opts.link !== false ? linkPackages(dir) : [];
  return { dir, files: files.sort(), linked };
}

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/__[A-Z_]+__/g, (key) => values[key] ?? key);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? listFiles(full) : [full];
  });
}

/** The folder of `name` as this CLI resolves it (node_modules here and above). */
function installedPackageDir(name: string): string | undefined {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Symlink the packages the plugin imports into its node_modules (what an install would do). */
function linkPackages(dir: string): string[] {
  const linked: string[] = [];
  for (const name of TS_LINKED_PACKAGES) {
    const source = installedPackageDir(name);
    if (!source) continue;
    const target = path.join(dir, 'node_modules', name);
    mkdirSync(path.dirname(target), { recursive: true });
    symlinkSync(source, target, 'dir');
    linked.push(name);
  }
  return linked;
}

function parseLanguage(value: string): PluginLanguage {
  if (value !== 'ts' && value !== 'python')
    throw new CliError(`--language: expected ts or python, got '${value}'`, 2);
  return value;
}

export function registerPluginCommands(program: Command): void {
  const plugin = program.command('plugin').description('write trainer plugins');
  plugin
    .command('new <name>')
    .description(
      'scaffold a trainer plugin whose own tests pass as generated (TS package or Python command trainer)',
    )
    .option(
      '--language <language>',
      'ts (a plugin package) or python (a command trainer)',
      parseLanguage,
      'ts',
    )
    .option(
      '--dir <path>',
      'where to write it (default: plugins/<name> in this workspace for ts, ./<name> for python)',
    )
    .option('--no-link', 'ts: do not link the SDK, zod and vitest into the new node_modules')
    .action((name: string, opts: { language: PluginLanguage; dir?: string; link: boolean }) => {
      const result = scaffoldPlugin({
        name,
        language: opts.language,
        link: opts.link,
        ...(opts.dir ? { dir: opts.dir } : {}),
      });
      const next =
        opts.language === 'ts'
          ? [
              `  cd ${result.dir} && npx vitest run   # conformance tests`,
              `  worker config:  plugins: [{ module: ${result.dir} }]`,
            ]
          : [
              `  cd ${result.dir} && python3 -m unittest -v`,
              `  GROKMAP_WORKER_CONFIG=${path.join(result.dir, 'grokmap.config.yaml')} grokmap sweep validate <spec>`,
            ];
      process.stdout.write(
        [
          `created ${opts.language} plugin '${name}' in ${result.dir}:`,
          ...result.files.map((f) => `  ${f}`),
          'next:',
          ...next,
        ].join('\n') + '\n',
      );
    });
}
