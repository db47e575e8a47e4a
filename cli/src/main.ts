#!/usr/bin/env node
import { Command } from 'commander';
import { CliError } from './context.js';

type Register = (program: Command) => void;

/**
 * Command groups load on demand: `grokmap sweep validate` should not pay for
 * importing the Temporal worker, TensorFlow.js or the figure renderer.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  demo: async () => (await import('./commands/demo.js')).registerDemoCommand,
  sweep: async () => (await import('./commands/sweep.js')).registerSweepCommands,
  schedule: async () => (await import('./commands/schedule.js')).registerScheduleCommands,
  regression: async () => (await import('./commands/regression.js')).registerRegressionCommands,
  report: async () => (await import('./commands/report.js')).registerReportCommand,
  worker: async () => (await import('./commands/worker.js')).registerWorkerCommand,
  server: async () => (await import('./commands/server.js')).registerServerCommand,
  plugin: async () => (await import('./commands/plugin.js')).registerPluginCommands,
};

const program = new Command('grokmap')
  .description('Map when grokking happens: sweeps on Temporal, phase diagrams of the results.')
  .showHelpAfterError();

const requested = process.argv[2];
const groups = requested && requested in COMMANDS ? [requested] : Object.keys(COMMANDS);
for (const name of groups) (await COMMANDS[name]!())(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`grokmap: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`grokmap: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
