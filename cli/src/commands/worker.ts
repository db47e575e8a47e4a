import path from 'node:path';
import { connectOptions, grokmapHome } from '@grokmap/infra';
import {
  installTemporalRuntime,
  loadWorkerConfig,
  startControlWorker,
  startTrainerWorker,
} from '@grokmap/workers';
import { NativeConnection } from '@temporalio/worker';
import type { Command } from 'commander';
import { CliError, connectClient, createLogger, positiveInteger } from '../context.js';
import { openResultsStore } from '../local-workers.js';
import { reportWriterFor } from '../report-writer.js';

function parseGpus(value: string): number[] {
  const gpus = value.split(',').map((s) => Number.parseInt(s.trim(), 10));
  if (gpus.some((g) => !Number.isInteger(g) || g < 0))
    throw new CliError(`--gpus: expected indices like 0,1,2, got '${value}'`, 2);
  if (new Set(gpus).size !== gpus.length) throw new CliError(`--gpus: '${value}' lists a device twice`, 2);
  return gpus;
}

function positiveSeconds(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isFinite(n) || n < 0.05)
      throw new CliError(`${flag}: expected a number of seconds of at least 0.05, got '${value}'`, 2);
    return n;
  };
}

function parseIsolation(value: string): 'process' | 'inline' {
  if (value !== 'process' && value !== 'inline')
    throw new CliError(`--isolation: expected process or inline, got '${value}'`, 2);
  return value;
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker: `--queue control` hosts workflows and bookkeeping; any other queue trains trials',
    )
    .requiredOption('--queue <queue>', 'control, or a trainer resource class such as cpu or gpu')
    .option(
      '--concurrency <n>',
      'trials at once (default: CPU cores, or one per GPU)',
      positiveInteger('--concurrency'),
    )
    .option('--gpus <list>', 'GPU indices, one trial per device, e.g. 0,1,2,3', parseGpus)
    .option('--config <file>', 'worker config: which plugins and command trainers this worker hosts')
    .option(
      '--memory-limit-mb <n>',
      'kill a trial whose process grows past this',
      positiveInteger('--memory-limit-mb'),
    )
    .option(
      '--isolation <mode>',
      'process (default): each trial in its own child process; inline: in the worker process (trusted, instant trainers only, e.g. benchmarks)',
      parseIsolation,
    )
    .option(
      '--progress-every <seconds>',
      "how often each running trial's step reaches the server for sweep status and watch (default 5)",
      positiveSeconds('--progress-every'),
    )
    .option('--json', 'JSON logs')
    .action(
      async (opts: {
        queue: string;
        concurrency?: number;
        gpus?: number[];
        config?: string;
        memoryLimitMb?: number;
        isolation?: 'process' | 'inline';
        progressEvery?: number;
        json?: boolean;
      }) => {
        const logger = createLogger(!!opts.json);
        installTemporalRuntime(logger);
        if (opts.config) process.env.GROKMAP_WORKER_CONFIG = path.resolve(opts.config);
        loadWorkerConfig(); // fail fast on a bad config, before connecting
        const connected = await connectClient(logger);
        await connected.close();
        const connection = await NativeConnection.connect(connectOptions(connected.settings));
        const store = await openResultsStore(logger);
        const running =
          opts.queue === 'control'
            ? await startControlWorker({
                connection,
                namespace: connected.settings.namespace,
                store,
                logger,
                writeReport: reportWriterFor(store, logger),
              })
            : await startTrainerWorker({
                connection,
                namespace: connected.settings.namespace,
                queue: opts.queue,
                ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
                ...(opts.gpus ? { gpus: opts.gpus } : {}),
                ...(opts.memoryLimitMb ? { memoryLimitMb: opts.memoryLimitMb } : {}),
                ...(opts.isolation ? { isolation: opts.isolation } : {}),
                ...(opts.progressEvery ? { progressIntervalMs: Math.round(opts.progressEvery * 1000) } : {}),
                store,
                checkpointDir: process.env.GROKMAP_CHECKPOINT_DIR ?? path.join(grokmapHome(), 'checkpoints'),
                logger,
              });
        // SIGTERM drains: no new trials; in-flight trials are told to stop, checkpoint, and are retried elsewhere.
        const stop = (signal: string) => {
          logger.info({ signal }, 'draining worker');
          void running.shutdown();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
        await running.done;
        await store.close();
        await connection.close();
      },
    );
}
