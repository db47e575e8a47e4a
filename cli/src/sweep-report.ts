import type { ResultsStore } from '@grokmap/workers';
import type { Logger } from 'pino';

/** Placeholder until the report writer lands: records nothing, writes nothing. */
export async function writeSweepReport(
  _store: ResultsStore,
  _sweepId: string,
  _dir: string,
  _logger: Logger,
): Promise<{ files: string[]; warnings: string[] }> {
  return { files: [], warnings: ['report writer not available'] };
}
