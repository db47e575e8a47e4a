#!/usr/bin/env node
import { Command } from 'commander';
import { registerDemoCommand } from './commands/demo.js';
import { registerPluginCommands } from './commands/plugin.js';
import { registerRegressionCommands } from './commands/regression.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerServerCommand } from './commands/server.js';
import { registerSweepCommands } from './commands/sweep.js';
import { registerWorkerCommand } from './commands/worker.js';
import { CliError } from './context.js';

const program = new Command('grokmap')
  .description('Map when grokking happens: sweeps on Temporal, phase diagrams of the results.')
  .showHelpAfterError();

registerDemoCommand(program);
registerSweepCommands(program);
registerScheduleCommands(program);
registerRegressionCommands(program);
registerWorkerCommand(program);
registerPluginCommands(program);
registerServerCommand(program);

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
