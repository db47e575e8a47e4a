import type { RegressionVerdict } from '@grokmap/workflows';
import type { Command } from 'commander';
import { createLogger, positiveInteger } from '../context.js';

/** `grokmap regression list`: the stored verdicts of scheduled (and hand-started) regression runs. */
export function registerRegressionCommands(program: Command): void {
  const regression = program.command('regression').description('verdicts of regression runs');

  regression
    .command('list')
    .description('verdicts, newest first: sweep, baseline, verdict, share of cells that changed phase')
    .option('--schedule <name>', "only this schedule's runs")
    .option('--limit <n>', 'at most this many', positiveInteger('--limit'))
    .option('--json', 'machine-readable output (full comparison of each run)')
    .action(async (opts: { schedule?: string; limit?: number; json?: boolean }) => {
      const logger = createLogger(!!opts.json);
      // The store (and the Temporal worker it brings) is loaded only by the commands that read it.
      const { openResultsStore } = await import('../local-workers.js');
      const store = await openResultsStore(logger);
      try {
        const records = await store.listRegressions({
          ...(opts.schedule ? { scheduleName: opts.schedule } : {}),
          ...(opts.limit ? { limit: opts.limit } : {}),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
          return;
        }
        if (records.length === 0) {
          process.stdout.write('no regression verdicts\n');
          return;
        }
        for (const r of records) {
          const details = r.details as Partial<RegressionVerdict>;
          const changed =
            typeof details.changedShare === 'number'
              ? `${details.changedCells?.length ?? 0}/${details.comparedCells ?? 0} cells changed`
              : '';
          process.stdout.write(
            `${r.createdAt}  ${r.scheduleName ?? '-'}  ${r.sweepId}  ${r.verdict}  baseline ${r.baselineSweepId ?? 'none'}  ${changed}\n`,
          );
        }
      } finally {
        await store.close();
      }
    });
}
