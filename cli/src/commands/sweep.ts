import type { ResultsStore, SweepRecord } from '@grokmap/workers';
import { formatProblems, sweepIdFor } from '@grokmap/workflows';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { CliError, checkSpecFile, connectClient, createLogger, positiveInteger } from '../context.js';
import { describeNextRound } from '../next-round.js';

/** What starting, following and reporting need; loaded only by the commands that use it. */
async function runtime() {
  const [local, grid, client, watch] = await Promise.all([
    import('../local-workers.js'),
    import('../phase-grid.js'),
    import('../sweep-client.js'),
    import('../watch.js'),
  ]);
  return { ...local, ...grid, ...client, ...watch };
}

/**
 * The stored sweeps, with the end of any the store says is running but the
 * server has closed recorded first (reconcile.ts). Only when some say
 * running does it reach the server, and never by starting the embedded one:
 * while it is down its sweeps are paused, not over. When the server cannot
 * be reached, the list shows the store as it is and says why.
 */
async function withEndsFromServer(
  store: ResultsStore,
  sweeps: SweepRecord[],
  logger: Logger,
): Promise<SweepRecord[]> {
  if (!sweeps.some((s) => s.status === 'running')) return sweeps;
  const { connectionFromEnv, grokmapHome, runningDevServer } = await import('@grokmap/infra');
  if (!connectionFromEnv() && !runningDevServer(grokmapHome())) return sweeps;
  const { reconcileRunningSweeps } = await import('../reconcile.js');
  try {
    const connected = await connectClient(logger);
    try {
      return await reconcileRunningSweeps(store, connected.client, sweeps);
    } finally {
      await connected.close();
    }
  } catch (err) {
    process.stderr.write(
      `warning: could not ask the Temporal server how the running sweeps stand (${err instanceof Error ? err.message : String(err)}); showing the store as it is\n`,
    );
    return sweeps;
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function registerSweepCommands(program: Command): void {
  const sweep = program.command('sweep').description('validate, start, follow and cancel sweeps');

  sweep
    .command('validate <spec>')
    .description('check a sweep spec (and every trial against its trainer) without starting anything')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { json?: boolean }) => {
      const check = await checkSpecFile(file);
      if (opts.json) printJson(check.ok ? { ok: true, sweepId: sweepIdFor(check.spec) } : check);
      else if (check.ok) process.stdout.write(`${file}: ok (sweep id ${sweepIdFor(check.spec)})\n`);
      if (!check.ok) {
        if (!opts.json)
          process.stderr.write(
            `${file}: ${check.problems.length} problem(s)\n${formatProblems(check.problems)}\n`,
          );
        process.exitCode = 2;
      }
    });

  sweep
    .command('start <spec>')
    .description(
      'start a sweep on the Temporal server (the embedded one unless GROKMAP_TEMPORAL_ADDRESS is set)',
    )
    .option('--wait', 'wait for the sweep to finish and print its phase grid')
    .option('--id <id>', 'sweep id (default: the spec name and a hash of its content)')
    .option('--with-workers', 'run a control and a trainer worker in this process while waiting')
    .option('--concurrency <n>', 'trials at once for --with-workers', positiveInteger('--concurrency'))
    .option(
      '--continue-as-new-after <events>',
      'history events per workflow run',
      positiveInteger('--continue-as-new-after'),
    )
    .option(
      '--partition-size <trials>',
      'run grid/random sweeps above this size as child sweeps',
      positiveInteger('--partition-size'),
    )
    .option(
      '--shard-parallel <trials>',
      'run grid/random sweeps with more trials in flight as concurrent shards of this many (default 64)',
      positiveInteger('--shard-parallel'),
    )
    .option('--json', 'machine-readable output')
    .action(
      async (
        file: string,
        opts: {
          wait?: boolean;
          id?: string;
          withWorkers?: boolean;
          concurrency?: number;
          continueAsNewAfter?: number;
          partitionSize?: number;
          shardParallel?: number;
          json?: boolean;
        },
      ) => {
        const {
          openResultsStore,
          startLocalWorkers,
          renderPhaseGrid,
          startSweep,
          storedTrials,
          sweptNames,
          waitForSweep,
        } = await runtime();
        const logger = createLogger(!!opts.json);
        const check = await checkSpecFile(file);
        if (!check.ok) {
          process.stderr.write(
            `${file}: ${check.problems.length} problem(s)\n${formatProblems(check.problems)}\n`,
          );
          process.exitCode = 2;
          return;
        }
        const spec = check.spec;
        const sweepId = opts.id ?? sweepIdFor(spec);
        const connected = await connectClient(logger);
        const local = opts.withWorkers
          ? await startLocalWorkers({
              settings: connected.settings,
              logger,
              queue: spec.resources.queue,
              ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
            })
          : undefined;
        try {
          const { attached } = await startSweep(connected.client, spec, sweepId, {
            ...(opts.continueAsNewAfter ? { maxHistoryEvents: opts.continueAsNewAfter } : {}),
            ...(opts.partitionSize ? { partitionSize: opts.partitionSize } : {}),
            ...(opts.shardParallel ? { shardParallel: opts.shardParallel } : {}),
          });
          if (opts.json && !opts.wait) printJson({ sweepId, attached });
          else if (!opts.wait)
            process.stdout.write(`${attached ? 'attached to running' : 'started'} sweep ${sweepId}\n`);
          if (opts.wait) {
            const handle = connected.client.workflow.getHandle(sweepId);
            const result = await waitForSweep(handle);
            const store = local?.store ?? (await openResultsStore(logger));
            const trials = await storedTrials(store, sweepId);
            if (opts.json) printJson({ ...result, trials });
            else {
              process.stdout.write(
                `sweep ${sweepId}: ${result.status}${result.verdict ? ` (${result.verdict})` : ''}\n`,
              );
              process.stdout.write(`${renderPhaseGrid(trials, sweptNames(spec))}\n`);
              if (result.reportDir) process.stdout.write(`report: ${result.reportDir}/report.html\n`);
            }
            if (!local) await store.close();
            if (result.status !== 'completed') process.exitCode = 1;
          }
        } finally {
          await local?.shutdown();
          await connected.close();
        }
      },
    );

  sweep
    .command('list')
    .description('stored sweeps, newest first: method, trainer, status, trials finished, phases found')
    .option('--limit <n>', 'only the newest n', positiveInteger('--limit'))
    .option('--status <status>', 'only sweeps in this state: running, completed, failed or cancelled')
    .option('--json', 'machine-readable output')
    .action(async (opts: { limit?: number; status?: string; json?: boolean }) => {
      const { openResultsStore } = await runtime();
      const { formatSweepList, parseSweepStatus, sweepListing } = await import('../sweep-list.js');
      const { unreadableSweepWarning } = await import('../unreadable.js');
      const status = opts.status === undefined ? undefined : parseSweepStatus(opts.status);
      const logger = createLogger(!!opts.json);
      const store = await openResultsStore(logger);
      try {
        const stored = await store.scanSweeps();
        // A corrupt sweep row is named, and every other sweep is still listed.
        for (const u of stored.unreadable) process.stderr.write(`warning: ${unreadableSweepWarning(u)}\n`);
        const scan = { ...stored, sweeps: await withEndsFromServer(store, stored.sweeps, logger) };
        const counts = await store.trialCounts();
        const listing = sweepListing(scan, counts, {
          ...(opts.limit ? { limit: opts.limit } : {}),
          ...(status ? { status } : {}),
        });
        if (opts.json) printJson(listing);
        else process.stdout.write(`${formatSweepList(listing)}\n`);
      } finally {
        await store.close();
      }
    });

  sweep
    .command('status <id>')
    .description("a sweep's progress: counts by status and phase, running trials, its phase grid")
    .option('--json', 'machine-readable output')
    .action(async (sweepId: string, opts: { json?: boolean }) => {
      const { openResultsStore, renderPhaseGrid, queryProgress, storedTrials, sweptNames } = await runtime();
      const logger = createLogger(!!opts.json);
      const store = await openResultsStore(logger);
      try {
        const stored = await store.getSweep(sweepId);
        const connected = await connectClient(logger);
        const progress = await queryProgress(connected.client.workflow.getHandle(sweepId));
        const { reconcileRunningSweeps } = await import('../reconcile.js');
        const [record] = stored ? await reconcileRunningSweeps(store, connected.client, [stored]) : [];
        await connected.close();
        if (!record && !progress) throw new CliError(`no sweep with id ${sweepId}`);
        const trials = await storedTrials(store, sweepId);
        const reportFile = record?.reportDir ? `${record.reportDir}/report.html` : undefined;
        if (opts.json) {
          printJson({ sweep: record, progress, report: reportFile, trials: trials.length });
          return;
        }
        const lines = [
          `sweep ${sweepId}  ${record?.status ?? progress?.status ?? 'unknown'}${record?.verdict ? ` — ${record.verdict}` : ''}`,
        ];
        if (progress) {
          lines.push(
            `trials: ${progress.finished}/${progress.planned} finished, ${progress.running.length} running`,
          );
          lines.push(
            `by status: ${JSON.stringify(progress.byStatus)}  by phase: ${JSON.stringify(progress.byPhase)}`,
          );
          for (const r of progress.running)
            lines.push(`  running ${r.trialId}  step ${r.step ?? '-'}  attempt ${r.attempt ?? 1}`);
          const nextRound = describeNextRound(progress);
          if (nextRound) lines.push(nextRound);
        }
        if (record) lines.push(renderPhaseGrid(trials, sweptNames(record.spec)));
        if (reportFile) lines.push(`report: ${reportFile}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await store.close();
      }
    });

  sweep
    .command('watch <id>')
    .description('follow a sweep live: a progress bar and its phase grid filling in')
    .action(async (sweepId: string) => {
      const { openResultsStore, watchSweep } = await runtime();
      const logger = createLogger(false);
      const connected = await connectClient(logger);
      const store = await openResultsStore(logger);
      try {
        await watchSweep(connected.client.workflow.getHandle(sweepId), store, sweepId);
      } finally {
        await store.close();
        await connected.close();
      }
    });

  sweep
    .command('cancel <id>')
    .description(
      'cancel a sweep: in-flight trials stop at their next heartbeat and are recorded as cancelled',
    )
    .action(async (sweepId: string) => {
      const logger = createLogger(false);
      const connected = await connectClient(logger);
      try {
        const handle = connected.client.workflow.getHandle(sweepId);
        await handle.cancel();
        try {
          await handle.result();
        } catch {
          // A cancelled workflow's result is a CancelledFailure: that is the success case here.
        }
        const d = await handle.describe();
        process.stdout.write(`sweep ${sweepId}: ${d.status.name.toLowerCase()}\n`);
      } finally {
        await connected.close();
      }
    });
}
