import type { ResultsStore } from '@grokmap/workers';
import type { SweepProgress } from '@grokmap/workflows';
import type { WorkflowHandle } from '@temporalio/client';
import { describeNextRound } from './next-round.js';
import { renderPhaseGrid } from './phase-grid.js';
import { queryProgress, storedTrials, sweptNames } from './sweep-client.js';

export function progressBar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

function summaryLine(p: SweepProgress): string {
  const phases = Object.entries(p.byPhase)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${progressBar(p.finished, p.planned)} trials  running ${p.running.length}${phases ? `  | ${phases}` : ''}`;
}

/** What `sweep watch` draws on a terminal: status, progress, what the next round waits for, running trials, grid. */
export function watchBlock(sweepId: string, progress: SweepProgress, grid: string): string {
  const running = progress.running
    .slice(0, 8)
    .map((r) => `  ${r.trialId}  step ${r.step ?? '-'}`)
    .join('\n');
  const nextRound = describeNextRound(progress);
  return [
    `sweep ${sweepId}  ${progress.status}`,
    summaryLine(progress),
    ...(nextRound ? [nextRound] : []),
    running,
    '',
    grid,
  ].join('\n');
}

/**
 * Follow a sweep until it closes. On a TTY: a progress bar and the phase
 * grid, redrawn in place as trials finish. Otherwise: one line per change.
 * Returns the workflow's final status.
 */
export async function watchSweep(
  handle: WorkflowHandle,
  store: ResultsStore,
  sweepId: string,
  out: NodeJS.WriteStream = process.stdout,
): Promise<string> {
  const tty = out.isTTY === true;
  let lastLine = '';
  let drawnLines = 0;
  for (;;) {
    const description = await handle.describe();
    const progress = await queryProgress(handle);
    const record = await store.getSweep(sweepId);
    const running = description.status.name === 'RUNNING';
    if (progress) {
      const line = summaryLine(progress);
      if (tty) {
        const grid = record
          ? renderPhaseGrid(await storedTrials(store, sweepId), sweptNames(record.spec))
          : '';
        const block = watchBlock(sweepId, progress, grid);
        out.write(`${drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[J` : ''}${block}\n`);
        drawnLines = block.split('\n').length;
      } else if (line !== lastLine) {
        out.write(`${line}\n`);
        lastLine = line;
      }
    }
    if (!running) {
      const status = description.status.name.toLowerCase();
      if (!tty && record)
        out.write(`${renderPhaseGrid(await storedTrials(store, sweepId), sweptNames(record.spec))}\n`);
      out.write(`sweep ${sweepId}: ${status}\n`);
      return status;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
