import path from 'node:path';
import { connectOptions, grokmapHome, type TemporalConnectionSettings } from '@grokmap/infra';
import {
  installTemporalRuntime,
  openStore,
  type ResultsStore,
  type RunningWorker,
  startControlWorker,
  startTrainerWorker,
} from '@grokmap/workers';
import { NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';
import { reportWriterFor } from './report-writer.js';

/** The results store every command uses: GROKMAP_DATABASE_URL, else SQLite under the grokmap home. */
export async function openResultsStore(logger: Logger): Promise<ResultsStore> {
  const store = await openStore({
    ...(process.env.GROKMAP_DATABASE_URL ? { databaseUrl: process.env.GROKMAP_DATABASE_URL } : {}),
    sqlitePath: path.join(grokmapHome(), 'grokmap.db'),
    logger,
  });
  await store.migrate();
  return store;
}

export interface LocalWorkers {
  store: ResultsStore;
  shutdown(): Promise<void>;
}

/**
 * A control worker and a trainer worker in this process: what the demo and
 * `sweep start --with-workers` use on one machine.
 */
export async function startLocalWorkers(opts: {
  settings: TemporalConnectionSettings;
  logger: Logger;
  queue: string;
  concurrency?: number;
  store?: ResultsStore;
}): Promise<LocalWorkers> {
  installTemporalRuntime(opts.logger);
  const store = opts.store ?? (await openResultsStore(opts.logger));
  const connection = await NativeConnection.connect(connectOptions(opts.settings));
  const control = await startControlWorker({
    connection,
    namespace: opts.settings.namespace,
    store,
    logger: opts.logger,
    writeReport: reportWriterFor(store, opts.logger),
  });
  const trainer = await startTrainerWorker({
    connection,
    namespace: opts.settings.namespace,
    queue: opts.queue,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    store,
    checkpointDir: path.join(grokmapHome(), 'checkpoints'),
    logger: opts.logger,
  });
  const workers: RunningWorker[] = [control, trainer];
  return {
    store,
    async shutdown() {
      await Promise.all(workers.map((w) => w.shutdown()));
      await connection.close();
      if (!opts.store) await store.close();
    },
  };
}
