import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RegressionVerdict } from '@grokmap/workflows';
import { aggregateCells } from '../cells.js';
import { estimatePhaseMap } from '../phase-map.js';
import type { AnalysedTrial } from '../types.js';
import { type PhasePanel, phaseDiagramSpec } from './figures.js';
import { escapeHtml, scopeSvgIds } from './html.js';
import { type ReportInput, resolveAxes } from './input.js';
import { renderSvg } from './render.js';
import { formatNumber, paramTitle } from './style.js';

/**
 * The regression page: the baseline's phase diagram and this run's side by
 * side (one pair per facet value, the same estimated-map rendering as the
 * sweep report), the cells whose phase changed outlined in red on both, the
 * verdict with its reasons, and tables of the boundary shifts and changed
 * cells. Self-contained HTML; every user string escaped.
 */

/** One sweep of the comparison: enough to name it and draw its phase diagram. */
export interface RegressionSide {
  id: string;
  name: string;
  /** The sweep's spec (its search space decides log axes). */
  spec: unknown;
  trials: readonly AnalysedTrial[];
}

export interface RegressionPageInput {
  verdict: RegressionVerdict;
  current: RegressionSide;
  /** Absent when the run had no baseline. */
  baseline: RegressionSide | null;
  /** Cells per axis of the estimated phase maps (default 30). */
  resolution?: number;
}

const CHANGED_COLOR = '#D62728';

/** Write the page to `file` and return the path. */
export async function writeRegressionPage(input: RegressionPageInput, file: string): Promise<string> {
  const warnings: string[] = [];
  const axes = resolveAxes(axesInput(input.current), warnings);
  let figure = '<p class="muted">No two numeric parameters vary across trials: no phase diagram drawn.</p>';
  if (axes.x && axes.y) {
    const { x, y } = axes;
    const keys = [x.name, y.name];
    const sides = [
      { label: 'baseline', data: input.baseline },
      { label: 'this run', data: input.current },
    ];
    const facetValues = facetsOf(input.current, axes.facet);
    const panels: PhasePanel[] = [];
    for (const facet of facetValues) {
      for (const side of sides) {
        const trials = (side.data?.trials ?? []).filter(
          (t) => axes.facet === null || same(t.params[axes.facet], facet),
        );
        const classified = trials.some((t) => t.classification !== null);
        const facetText = axes.facet === null ? '' : ` · ${paramTitle(axes.facet)} = ${String(facet)}`;
        panels.push({
          title: `${side.label}: ${side.data?.id ?? '(none)'}${facetText}`,
          cells: aggregateCells(trials, keys),
          map: classified
            ? estimatePhaseMap(trials, [x, y], { resolution: input.resolution ?? 30 }).cells
            : null,
          markers: true,
        });
      }
    }
    const spec = phaseDiagramSpec({
      title: `Regression check — ${input.current.name}`,
      subtitle: ['Left: baseline; right: this run. Red squares: cells whose phase changed.'],
      x: { name: x.name, log: x.log },
      y: { name: y.name, log: y.log },
      panels,
    });
    markChangedCells(spec, input.verdict, x.name, y.name, axes.facet, facetValues);
    figure = scopeSvgIds(await renderSvg({ ...spec, columns: 2 }), 'fig-regression');
  }
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, page(input, figure, warnings));
  return file;
}

/** Outline the changed cells on every panel of the spec (two panels per facet value, in order). */
function markChangedCells(
  spec: Record<string, unknown>,
  verdict: RegressionVerdict,
  x: string,
  y: string,
  facet: string | null,
  facetValues: readonly unknown[],
): void {
  const concat = spec.concat as { layer: { encoding?: Record<string, unknown> }[] }[];
  concat.forEach((panel, i) => {
    const facetValue = facetValues[Math.floor(i / 2)];
    const values = verdict.changedCells
      .filter((c) => facet === null || same(c.params[facet], facetValue))
      .flatMap((c) => {
        const cx = c.params[x];
        const cy = c.params[y];
        if (typeof cx !== 'number' || typeof cy !== 'number') return [];
        return [{ x: cx, y: cy, label: `${c.baseline} → ${c.current}` }];
      });
    const encoding = panel.layer[0]?.encoding ?? {};
    panel.layer.push({
      data: { values },
      mark: { type: 'square', filled: false, color: CHANGED_COLOR, size: 300, strokeWidth: 2.5 },
      encoding: {
        x: encoding.x,
        y: encoding.y,
        tooltip: [{ field: 'label', type: 'nominal', title: 'changed' }],
      },
    } as (typeof panel.layer)[number]);
  });
}

function facetsOf(input: RegressionSide, facet: string | null): unknown[] {
  if (facet === null) return [null];
  const seen: unknown[] = [];
  for (const t of input.trials) if (!seen.some((v) => same(v, t.params[facet]))) seen.push(t.params[facet]);
  return seen.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : 0));
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What `resolveAxes` reads of a sweep: its spec and the parameters of its trials. */
function axesInput(side: RegressionSide): ReportInput {
  return {
    sweep: { id: side.id, name: side.name, spec: side.spec, status: 'completed' },
    phaseRule: { threshold: 0.99, delaySteps: 0 },
    trials: side.trials.map((t) => ({
      trialId: t.trialId,
      params: t.params,
      status: t.status,
      phase: null,
      tTrain: null,
      tVal: null,
      ratio: null,
    })),
  };
}

const CSS = `
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 30px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.verdict { padding: 8px 14px; border-left: 5px solid #888; background: #f4f4f4; }
.verdict.regressed, .verdict.failed { border-color: ${CHANGED_COLOR}; background: #fdeeee; }
.verdict.pass, .verdict.baseline { border-color: #009E73; background: #eef8f4; }
.verdict.inconclusive { border-color: #E69F00; background: #fff8e6; }
figure { margin: 18px 0; } figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f2f2f2; }
.muted { color: #777; }
`;

function page(input: RegressionPageInput, figure: string, warnings: string[]): string {
  const v = input.verdict;
  const n = (x: number) => escapeHtml(formatNumber(x));
  const shifts = v.boundary?.shifts ?? [];
  const shiftRows = shifts
    .map(
      (s) =>
        `<tr><td>${escapeHtml(JSON.stringify(s.group))}</td><td>${n(s.at)}</td>` +
        `<td>${n(s.baseline.estimate)} [${n(s.baseline.lo)}, ${n(s.baseline.hi)}]</td>` +
        `<td>${n(s.current.estimate)} [${n(s.current.lo)}, ${n(s.current.hi)}]</td>` +
        `<td>${n(s.shift)}</td><td>${s.exceeds ? 'moved' : s.uncertain ? 'baseline too uncertain' : 'within'}</td></tr>`,
    )
    .join('\n');
  const cellRows = v.changedCells
    .map(
      (c) =>
        `<tr><td>${escapeHtml(JSON.stringify(c.params))}</td><td>${escapeHtml(c.baseline)}</td><td>${escapeHtml(c.current)}</td></tr>`,
    )
    .join('\n');
  const d = v.delayRatio;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Regression check — ${escapeHtml(v.sweepId)}</title>
<style>${CSS}</style></head><body><main>
<h1>Regression check — ${escapeHtml(input.current.name)}</h1>
<p>This run: <code>${escapeHtml(v.sweepId)}</code>; baseline: <code>${escapeHtml(v.baselineSweepId ?? 'none')}</code>${v.scheduleName ? `; schedule <code>${escapeHtml(v.scheduleName)}</code>` : ''}.</p>
<div class="verdict ${escapeHtml(v.verdict)}"><strong>${escapeHtml(v.verdict)}</strong><ul>
${v.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('\n')}
</ul></div>
<p>${v.changedCells.length} of ${v.comparedCells} compared cells changed phase (${n(100 * v.changedShare)}%; limit ${n(100 * v.thresholds.maxChangedCells)}%). Seeds agree in ${n(100 * v.baselineConfidence)}% of the baseline's cells. Median delay ratio R: ${d.baselineMedian === null ? '–' : n(d.baselineMedian)} → ${d.currentMedian === null ? '–' : n(d.currentMedian)}.</p>
<h2>Phase diagrams</h2>
<figure>${figure}</figure>
<h2>Boundary shifts</h2>
${shifts.length === 0 ? '<p class="muted">No boundary compared.</p>' : `<table><tr><th>group</th><th>${escapeHtml(v.boundary!.by)}</th><th>baseline ${escapeHtml(v.boundary!.along)} [interval]</th><th>this run [interval]</th><th>shift</th><th></th></tr>\n${shiftRows}</table>`}
<h2>Changed cells</h2>
${v.changedCells.length === 0 ? '<p class="muted">None.</p>' : `<table><tr><th>cell</th><th>baseline</th><th>this run</th></tr>\n${cellRows}</table>`}
${warnings.length > 0 ? `<h2>Warnings</h2><ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>` : ''}
</main></body></html>
`;
}
