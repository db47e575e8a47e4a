import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REFERENCE_GRIDS_FILE, referenceGridNames, writeReferenceReport } from '@grokmap/analysis';
import type { Command } from 'commander';
import { CliError, createLogger } from '../context.js';
import { openResultsStore } from '../local-workers.js';
import { defaultReportDir } from '../report-writer.js';
import { writeSweepReport } from '../sweep-report.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report [sweep-id]')
    .description(
      "write a sweep's report (HTML, SVG/PNG figures, CSV, JSONL, phase map), or draw a published grid",
    )
    .option('--out <dir>', 'output folder (default .grokmap/reports/<id>)')
    .option('--reference <grid>', 'draw a published grid from a reference JSON file instead of a sweep')
    .option(
      '--reference-file <file>',
      'reference JSON file (default: the Liu et al. 2022 grids shipped with grokmap)',
    )
    .action(
      async (
        sweepId: string | undefined,
        opts: { out?: string; reference?: string; referenceFile?: string },
      ) => {
        const logger = createLogger(false);
        if (opts.reference) {
          const file = path.resolve(opts.referenceFile ?? REFERENCE_GRIDS_FILE);
          if (!existsSync(file)) throw new CliError(`reference file not found: ${file}`);
          const names = referenceGridNames(JSON.parse(readFileSync(file, 'utf8')));
          if (!names.includes(opts.reference)) {
            throw new CliError(`no grid '${opts.reference}' in ${file}; it has: ${names.join(', ')}`);
          }
          const out = path.resolve(opts.out ?? defaultReportDir(`reference-${opts.reference}`));
          await writeReferenceReport(file, opts.reference, out);
          process.stdout.write(`${path.join(out, 'phase-diagram.png')}\n`);
          return;
        }
        if (!sweepId) throw new CliError('name a sweep id, or --reference <grid>');
        const store = await openResultsStore(logger);
        try {
          const out = path.resolve(opts.out ?? defaultReportDir(sweepId));
          const { warnings } = await writeSweepReport(store, sweepId, out, logger);
          for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
          process.stdout.write(`${path.join(out, 'report.html')}\n`);
        } catch (err) {
          throw new CliError((err as Error).message);
        } finally {
          await store.close();
        }
      },
    );
}
