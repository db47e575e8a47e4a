import path from 'node:path';
import { grokmapHome } from '@grokmap/infra';
import type { ResultsStore } from '@grokmap/workers';
import type { Logger } from 'pino';

/** Where a sweep's report goes by default. */
export function defaultReportDir(sweepId: string): string {
  return path.join(grokmapHome(), 'reports', sweepId);
}

/** The control worker's report step: read the sweep from the store and write its report. */
export function reportWriterFor(store: ResultsStore, logger: Logger): (sweepId: string) => Promise<string> {
  return async (sweepId) => {
    const { writeSweepReport } = await import('./sweep-report.js');
    const dir = defaultReportDir(sweepId);
    await writeSweepReport(store, sweepId, dir, logger);
    return dir;
  };
}
