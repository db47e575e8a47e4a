import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { axisFor } from '../axes.js';
import { aggregateCells } from '../cells.js';
import { countPhases, loadReferenceGrid, type ReferenceGrid, referenceTrials } from '../reference.js';
import { PHASES, type Phase } from '../types.js';
import { delayHeatmapSpec, phaseDiagramSpec } from './figures.js';
import { renderSvg, svgToPng } from './render.js';
import { formatNumber, wrapText } from './style.js';

export interface ReferenceReportResult {
  files: string[];
  warnings: string[];
  counts: Record<Phase, number>;
}

/** Files a reference report writes. */
export const REFERENCE_REPORT_FILES = [
  'phase-diagram.svg',
  'phase-diagram.png',
  'grokking-delay.svg',
  'cells.json',
] as const;

/** The figures of a published grid, as SVG, and its phase counts. */
export interface ReferenceFigures {
  grid: ReferenceGrid;
  counts: Record<Phase, number>;
  phaseSvg: string;
  delaySvg: string;
}

/**
 * Draw a published phase grid (shared/reference/liu2022-phase-grids.json) the
 * way a sweep's phase diagram is drawn — same colours, same fonts, its two
 * knobs as the axes (rows on y, columns on x; log-scaled as `axisFor`
 * decides from the values) — so the two can be compared side by side.
 */
export async function referenceFigures(
  referenceJsonPath: string,
  gridName: string,
): Promise<ReferenceFigures> {
  const grid = loadReferenceGrid(await readFile(referenceJsonPath, 'utf8'), gridName);
  const trials = referenceTrials(grid);
  const x = axisFor(grid.cols.param, grid.cols.values);
  const y = axisFor(grid.rows.param, grid.rows.values);
  const cells = aggregateCells(trials, [x.name, y.name]);
  const counts = countPhases(grid.cells);
  const countLine = PHASES.map((p) => `${p} ${counts[p]}`).join(' · ');
  const ruleLine = `θ = ${formatNumber(grid.rule.threshold)}, Δ = ${formatNumber(grid.rule.delaySteps)} steps, budget ${formatNumber(grid.budgetSteps)} steps.`;
  const source = grid.source ? wrapText(`Source: ${grid.source}.`, 80) : [];

  const phaseSvg = await renderSvg(
    phaseDiagramSpec({
      title: `Published phase grid: ${grid.name}`,
      subtitle: [ruleLine, `Cells: ${countLine}.`, ...source],
      x,
      y,
      panels: [{ title: '', cells, map: null, markers: false }],
      size: { width: 360, height: 300 },
    }),
  );
  const delaySvg = await renderSvg(
    delayHeatmapSpec({
      title: `Grokking delay — ${grid.name}`,
      subtitle: ['R = t_val / t_train where both reached θ; grey: not reached.', ...source],
      x,
      y,
      panels: [{ title: '', cells }],
    }),
  );
  return { grid, counts, phaseSvg, delaySvg };
}

/** Write a published grid's figures (SVG, PNG) and its classified cells (JSON) into `outDir`. */
export async function writeReferenceReport(
  referenceJsonPath: string,
  gridName: string,
  outDir: string,
  options: { pngScale?: number } = {},
): Promise<ReferenceReportResult> {
  const { grid, counts, phaseSvg, delaySvg } = await referenceFigures(referenceJsonPath, gridName);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'phase-diagram.svg'), phaseSvg);
  await writeFile(join(outDir, 'phase-diagram.png'), svgToPng(phaseSvg, options.pngScale ?? 2));
  await writeFile(join(outDir, 'grokking-delay.svg'), delaySvg);
  await writeFile(
    join(outDir, 'cells.json'),
    `${JSON.stringify({ grid: grid.name, rule: grid.rule, counts, cells: grid.cells }, null, 1)}\n`,
  );
  return { files: [...REFERENCE_REPORT_FILES], warnings: [], counts };
}
