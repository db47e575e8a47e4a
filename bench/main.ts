/**
 * `pnpm bench <name> [options]`: runs one benchmark script.
 *
 *   trainer        bench/trainer.ts        benchTrainer        step times of the trainer backends
 *   sampling       bench/sampling.ts       benchSampling       trials each sampling method needs
 *   orchestration  bench/orchestration.ts  benchOrchestration  Temporal + store overhead per trial
 *   drains         bench/drains.ts         runDrains           how busy drains before continue-as-new keep a fleet (a model)
 *
 * Each script also runs on its own (`npx tsx bench/<name>.ts`). The modules
 * are imported only when named, so one missing or broken script does not
 * stop the others.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Each entry point takes its command-line words, except sampling, which takes `{ quick }`. */
const BENCHES: Record<string, { file: string; entry: string; args?: (argv: string[]) => unknown }> = {
  trainer: { file: './trainer.ts', entry: 'benchTrainer' },
  sampling: {
    file: './sampling.ts',
    entry: 'benchSampling',
    args: (argv) => ({ quick: argv.includes('--quick') }),
  },
  orchestration: { file: './orchestration.ts', entry: 'benchOrchestration' },
  drains: { file: './drains.ts', entry: 'runDrains' },
};

function usage(): string {
  return `usage: pnpm bench <${Object.keys(BENCHES).join('|')}> [options]`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (!(name in BENCHES)) {
    process.stderr.write(`bench: unknown benchmark '${name}'\n${usage()}\n`);
    return 2;
  }
  const { file, entry, args } = BENCHES[name]!;
  const url = new URL(file, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    process.stderr.write(
      `bench: ${name} is not available: bench/${file.slice(2)} does not exist in this checkout\n`,
    );
    return 2;
  }
  const mod = (await import(url.href)) as Record<string, unknown>;
  const run = mod[entry];
  if (typeof run !== 'function') {
    process.stderr.write(`bench: bench/${file.slice(2)} does not export ${entry}()\n`);
    return 2;
  }
  // Scripts that look at process.argv themselves see only their own options.
  process.argv = [process.argv[0]!, fileURLToPath(url), ...rest];
  await (run as (input: unknown) => Promise<unknown>)(args ? args(rest) : rest);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
