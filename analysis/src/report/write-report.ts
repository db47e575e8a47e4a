import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aggregateCells, type Cell } from '../cells.js';
import { estimatePhaseMap } from '../phase-map.js';
import type { AnalysedTrial } from '../types.js';
import { pickBoundaryCells } from './boundary-cells.js';
import {
  type CurvePanel,
  curvesSpec,
  delayHeatmapSpec,
  type PhasePanel,
  phaseDiagramSpec,
} from './figures.js';
import { type HtmlFigure, renderHtml } from './html.js';
import { type ReportInput, type ReportTrial, type ResolvedAxes, resolveAxes } from './input.js';
import { missingWarnings, summariseMissing } from './missing.js';
import { referenceFigures } from './reference-report.js';
import { placeholderSvg, renderSvg, svgToPng } from './render.js';
import { sanitiseInput } from './sanitise.js';
import { formatNumber, paramShort, paramTitle } from './style.js';
import { trialsCsv, trialsJsonl } from './tables.js';

export interface WriteReportOptions {
  /** Cells per axis of the estimated phase map behind each panel (default 40). */
  resolution?: number;
  /** PNG scale over the SVG size (default 2). */
  pngScale?: number;
  /** How many cells the curve small multiples show at most (default 6). */
  maxCurvePanels?: number;
  /** Any pino-like logger; the writer logs one line when done. */
  logger?: { info(obj: object, msg: string): void };
  /**
   * A published grid to draw beside the sweep's phase diagram, in the same
   * colours (e.g. shared/reference/liu2022-phase-grids.json and a grid name).
   */
  reference?: { path: string; grid: string };
}

export interface WriteReportResult {
  /** Paths of the files written, relative to `outDir`. */
  files: string[];
  /** Everything the report could not show or had to guess, also printed on the page. */
  warnings: string[];
}

/** Files every report has, whatever its input. */
export const REPORT_FILES = [
  'report.html',
  'phase-diagram.svg',
  'phase-diagram.png',
  'grokking-delay.svg',
  'curves.svg',
  'trials.csv',
  'trials.jsonl',
  'phase-map.json',
] as const;

/**
 * Write a sweep's report into `outDir`: report.html (self-contained), the
 * phase diagram as SVG and PNG, the delay heatmap and curve small multiples
 * as SVG, every trial as CSV and JSON lines, and the estimated phase map as
 * JSON. Input that is partly unreadable, trials that failed, were cancelled
 * or are still running, and trials without curves all still give a full set
 * of files; what is missing is listed on the page and in `warnings`.
 */
export async function writeReport(
  input: ReportInput,
  outDir: string,
  options: WriteReportOptions = {},
): Promise<WriteReportResult> {
  const warnings: string[] = [];
  const data = sanitiseInput(input, warnings);
  const axes = resolveAxes(data, warnings);
  const missing = summariseMissing(data.trials);
  warnings.push(...missingWarnings(missing, data.trials.length));

  const analysed = data.trials.map(toAnalysed);
  const panels = facetPanels(data, analysed, axes);
  const subtitle = ruleLine(data);

  let phaseSvg: string;
  let delaySvg: string;
  const mapJson: unknown[] = [];
  if (axes.x && axes.y) {
    const { x, y } = axes;
    const phasePanels: PhasePanel[] = panels.map((p) => {
      const classified = p.trials.filter((t) => t.classification !== null).length;
      const map =
        classified > 0 ? estimatePhaseMap(p.trials, [x, y], { resolution: options.resolution ?? 40 }) : null;
      mapJson.push({ facet: p.facetValue, map, cells: p.cells });
      return { title: p.title, cells: p.cells, map: map?.cells ?? null, markers: true };
    });
    phaseSvg = await renderSvg(
      phaseDiagramSpec({
        title: `Phase diagram — ${data.sweep.name}`,
        subtitle: [
          subtitle,
          'Background: estimated phase, faded where uncertain. Markers: sampled cells (majority of seeds).',
        ],
        x: axes.x,
        y: axes.y,
        panels: phasePanels,
      }),
    );
    delaySvg = await renderSvg(
      delayHeatmapSpec({
        title: `Grokking delay — ${data.sweep.name}`,
        subtitle: [
          'Median R = t_val / t_train over the seeds that reached θ on both sets; grey: not reached.',
        ],
        x: axes.x,
        y: axes.y,
        panels: panels.map((p) => ({ title: p.title, cells: p.cells })),
      }),
    );
  } else {
    const why =
      data.trials.length === 0
        ? 'No trials.'
        : 'No two numeric parameters vary across trials, so there is no plane to draw.';
    warnings.push(`no phase diagram drawn: ${why}`);
    phaseSvg = await placeholderSvg(`Phase diagram — ${data.sweep.name}`, why);
    delaySvg = await placeholderSvg(`Grokking delay — ${data.sweep.name}`, why);
    for (const p of panels) mapJson.push({ facet: p.facetValue, map: null, cells: p.cells });
  }

  const curvePanels = boundaryCurvePanels(data.trials, panels, axes, options.maxCurvePanels ?? 6);
  if (curvePanels.length === 0 && data.trials.length > 0)
    warnings.push('no trial with curves: no curve figure drawn');
  const curvesSvg =
    curvePanels.length > 0
      ? await renderSvg(
          curvesSpec({
            title: 'Training curves near the phase boundary',
            subtitle: [
              `Accuracy on the training and validation sets; dashed: θ = ${formatNumber(data.phaseRule.threshold)}.`,
            ],
            threshold: data.phaseRule.threshold,
            panels: curvePanels,
          }),
        )
      : await placeholderSvg('Training curves', 'No trial recorded curves.');

  const figures: HtmlFigure[] = [
    {
      id: 'fig-phase',
      title: 'Phase diagram',
      caption: `One panel per ${axes.facet ? paramTitle(axes.facet) : 'sweep'}. Colours: phases as defined below; background shading is the estimated phase map (stronger where certain); markers are the sampled parameter cells, a cross where every trial of the cell failed.`,
      svg: phaseSvg,
    },
    {
      id: 'fig-delay',
      title: 'Grokking delay',
      caption: 'log₁₀ of the median delay ratio R per sampled cell; numbers are R itself.',
      svg: delaySvg,
    },
    {
      id: 'fig-curves',
      title: 'Training curves',
      caption:
        'Cells on either side of a phase boundary (neighbouring cells with different phases), one seed each.',
      svg: curvesSvg,
    },
  ];

  const extra: Record<string, string | Buffer> = {};
  if (options.reference) {
    try {
      const ref = await referenceFigures(options.reference.path, options.reference.grid);
      figures.splice(1, 0, {
        id: 'fig-reference',
        title: 'Published phase grid for comparison',
        caption: `${ref.grid.name}, classified with θ = ${formatNumber(ref.grid.rule.threshold)} and Δ = ${formatNumber(ref.grid.rule.delaySteps)} steps, in the same colours as the phase diagram above.`,
        svg: ref.phaseSvg,
      });
      extra['reference-phase-diagram.svg'] = ref.phaseSvg;
      extra['reference-phase-diagram.png'] = svgToPng(ref.phaseSvg, options.pngScale ?? 2);
    } catch (err) {
      warnings.push(`reference grid not drawn: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const files = [...REPORT_FILES, ...Object.keys(extra)];

  await mkdir(outDir, { recursive: true });
  const phaseMapDoc = {
    sweep: { id: data.sweep.id, name: data.sweep.name },
    phaseRule: data.phaseRule,
    axes,
    panels: mapJson,
  };
  const html = renderHtml({ input: data, axes, figures, missing, warnings, files: files.slice(1) });
  const contents: Record<(typeof REPORT_FILES)[number], string | Buffer> = {
    'report.html': html,
    'phase-diagram.svg': phaseSvg,
    'phase-diagram.png': svgToPng(phaseSvg, options.pngScale ?? 2),
    'grokking-delay.svg': delaySvg,
    'curves.svg': curvesSvg,
    'trials.csv': trialsCsv(data.trials),
    'trials.jsonl': trialsJsonl(data.trials),
    'phase-map.json': `${JSON.stringify(phaseMapDoc, null, 1)}\n`,
  };
  for (const name of REPORT_FILES) await writeFile(join(outDir, name), contents[name]);
  for (const [name, content] of Object.entries(extra)) await writeFile(join(outDir, name), content);
  options.logger?.info({ outDir, trials: data.trials.length, warnings: warnings.length }, 'report written');
  return { files, warnings };
}

function ruleLine(data: ReportInput): string {
  return `θ = ${formatNumber(data.phaseRule.threshold)}, Δ = ${formatNumber(data.phaseRule.delaySteps)} steps; ${data.trials.length} trials.`;
}

interface FacetPanel {
  facetValue: unknown;
  title: string;
  trials: AnalysedTrial[];
  cells: Cell[];
}

/** One panel per facet value (sorted), with the cells of its trials. */
function facetPanels(data: ReportInput, analysed: AnalysedTrial[], axes: ResolvedAxes): FacetPanel[] {
  const keys = [axes.x?.name, axes.y?.name].filter((k): k is string => k !== undefined);
  const facet = axes.facet;
  if (facet === null) {
    return [
      { facetValue: null, title: data.sweep.name, trials: analysed, cells: aggregateCells(analysed, keys) },
    ];
  }
  // The facet groups are the cells over the facet parameter alone (sorted by its value).
  const byId = new Map(analysed.map((t) => [t.trialId, t]));
  return aggregateCells(analysed, [facet]).map((group) => {
    const value = group.params[facet];
    const trials = group.trialIds.map((id) => byId.get(id)!);
    return {
      facetValue: value ?? null,
      title: `${paramTitle(facet)} = ${typeof value === 'number' ? formatNumber(value) : String(value ?? '(none)')}`,
      trials,
      cells: aggregateCells(trials, keys),
    };
  });
}

const ANALYSED_STATUSES = new Set(['completed', 'diverged', 'timed_out', 'error', 'cancelled', 'running']);

function toAnalysed(t: ReportTrial): AnalysedTrial {
  const status = (
    ANALYSED_STATUSES.has(t.status) ? t.status : t.status === 'pending' ? 'running' : 'error'
  ) as AnalysedTrial['status'];
  return {
    trialId: t.trialId,
    params: t.params,
    status,
    classification:
      t.status === 'completed' && t.phase !== null
        ? {
            phase: t.phase,
            tTrain: t.tTrain,
            tVal: t.tVal,
            ratio: t.ratio,
            valAtTrain: null,
            semiGrokking: t.semiGrokking ?? false,
          }
        : null,
    ...(t.curves ? { curves: t.curves } : {}),
  };
}

function boundaryCurvePanels(
  trials: readonly ReportTrial[],
  panels: readonly FacetPanel[],
  axes: ResolvedAxes,
  max: number,
): CurvePanel[] {
  const byId = new Map(trials.map((t) => [t.trialId, t]));
  const withCurves = (c: Cell) =>
    c.trialIds
      .map((id) => byId.get(id))
      .find((t) => t?.status === 'completed' && (t.curves?.length ?? 0) > 0);
  const chosen = pickBoundaryCells(
    panels.map((p) => p.cells.filter((c) => withCurves(c) !== undefined)),
    axes,
    max,
  );
  return chosen.map(({ cell }) => {
    const t = withCurves(cell)!;
    const where = [axes.x?.name, axes.y?.name, axes.facet]
      .filter((k): k is string => Boolean(k))
      .map((k) => {
        const v = t.params[k];
        return `${paramShort(k)} ${typeof v === 'number' ? formatNumber(v) : String(v)}`;
      })
      .join(' · ');
    return { label: `${cell.phase ?? 'unclassified'}\n${where}`, phase: cell.phase, curves: t.curves ?? [] };
  });
}
