import { fileURLToPath } from 'node:url';
import { grokmapHome } from '@grokmap/infra';
import { formatProblems, sweepIdFor } from '@grokmap/workflows';
import type { Command } from 'commander';
import { CliError, checkSpecFile, connectClient, createLogger, positiveInteger } from '../context.js';
import { startLocalWorkers } from '../local-workers.js';
import { phasesPresent, renderPhaseGrid } from '../phase-grid.js';
import { startSweep, storedTrials, sweptNames, waitForSweep } from '../sweep-client.js';
import { watchSweep } from '../watch.js';

/** Each built-in trainer ships its demo sweep as `demo-sweep.yaml` in its package. */
const DEMO_TRAINERS = ['synthetic', 'modular-arithmetic'];

function demoSpecPath(trainer: string): string {
  if (!DEMO_TRAINERS.includes(trainer)) {
    throw new CliError(`no demo for trainer '${trainer}'; choose one of ${DEMO_TRAINERS.join(', ')}`);
  }
  try {
    return fileURLToPath(import.meta.resolve(`@grokmap/plugin-${trainer}/demo-sweep.yaml`));
  } catch (err) {
    throw new CliError(`the ${trainer} plugin ships no demo sweep: ${(err as Error).message}`);
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start the embedded server and workers, run a built-in sweep, print its phase grid')
    .option('--trainer <name>', `which built-in demo (${DEMO_TRAINERS.join(', ')})`, 'synthetic')
    .option('--concurrency <n>', 'trials at once (default: CPU cores)', positiveInteger('--concurrency'))
    .action(async (opts: { trainer: string; concurrency?: number }) => {
      const file = demoSpecPath(opts.trainer);
      const logger = createLogger(false);
      const check = await checkSpecFile(file);
      if (!check.ok) throw new CliError(`built-in demo spec is invalid:\n${formatProblems(check.problems)}`);
      const spec = check.spec;
      const connected = await connectClient(logger);
      const local = await startLocalWorkers({
        settings: connected.settings,
        logger,
        queue: spec.resources.queue,
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      });
      // Each demo run is a new sweep, so its history and results sit beside earlier runs.
      const sweepId = `${sweepIdFor(spec)}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
      try {
        const { handle } = await startSweep(connected.client, spec, sweepId);
        await watchSweep(handle, local.store, sweepId);
        const result = await waitForSweep(handle);
        const trials = await storedTrials(local.store, sweepId);
        const lines = [
          '',
          `demo sweep ${sweepId}: ${result.status}, ${trials.length} trials`,
          renderPhaseGrid(trials, sweptNames(spec)),
          '',
          `phases seen: ${[...phasesPresent(trials)].sort().join(', ')}`,
          `Temporal Web UI: ${connected.uiUrl ? `${connected.uiUrl}/namespaces/${connected.settings.namespace}/workflows/${sweepId}` : '(external server)'}`,
          `results: ${process.env.GROKMAP_DATABASE_URL ? 'GROKMAP_DATABASE_URL' : `${grokmapHome()}/grokmap.db`}`,
          ...(result.reportDir ? [`report: ${result.reportDir}/report.html`] : []),
          `follow up: pnpm grokmap sweep status ${sweepId}   (the server keeps running; stop it with pnpm grokmap server stop)`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
        if (result.status !== 'completed') process.exitCode = 1;
      } finally {
        await local.shutdown();
        await connected.close();
      }
    });
}
