import { Document, isScalar, visit } from 'yaml';
import { PHASES } from '../types.js';
import type { ReportInput, ReportTrial, ResolvedAxes } from './input.js';
import type { MissingSummary } from './missing.js';
import { CELL_PHASES, formatNumber, PHASE_COLORS, paramTitle } from './style.js';
import { cellText, paramColumns } from './tables.js';

/**
 * The self-contained report page: CSS and SVG figures inline, no script, no
 * request of any kind (no fonts, styles or images from the network). Every
 * string that came from a user (names, parameters, errors, the spec) is
 * HTML-escaped.
 */

export function escapeHtml(value: unknown): string {
  return cellText(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * Give every id of an inline SVG a prefix (and every `url(#…)` / `href="#…"`
 * that points at one), so several Vega figures on one page keep their own
 * clip paths and gradients.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/<\?xml[^>]*\?>/, '')
    .replace(/\sid="([^"]+)"/g, (_m, id: string) => ` id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}-${id})`)
    .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}-${id}"`);
}

export interface HtmlFigure {
  id: string;
  title: string;
  caption: string;
  svg: string;
}

export interface HtmlPage {
  input: ReportInput;
  axes: ResolvedAxes;
  figures: readonly HtmlFigure[];
  missing: MissingSummary;
  warnings: readonly string[];
  /** Files written beside the page, linked relatively. */
  files: readonly string[];
}

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin: 0 0 16px; }
.meta code { background: #f2f2f2; padding: 1px 4px; border-radius: 3px; }
.verdict { border-left: 4px solid #E69F00; padding: 6px 12px; background: #fff8e6; }
.warnings { border-left: 4px solid #CC79A7; padding: 6px 12px; background: #fbf1f7; }
figure { margin: 18px 0 26px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; font-size: 14px; margin-top: 6px; max-width: 900px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fdf0f0; }
tr.running td { background: #f2f6fd; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; border: 1px solid #0003; }
.table-wrap { max-height: 640px; overflow: auto; border: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 12px; overflow: auto; font-size: 13px; }
dl.rule dt { font-weight: bold; margin-top: 6px; }
dl.rule dd { margin-left: 18px; }
.muted { color: #777; }
`;

function phaseCell(phase: string | null): string {
  if (phase === null) return '<span class="muted">—</span>';
  const colour = (PHASE_COLORS as Record<string, string>)[phase] ?? '#cccccc';
  return `<span class="swatch" style="background:${colour}"></span>${escapeHtml(phase)}`;
}

function numberCell(v: number | null): string {
  return `<td class="num">${v === null ? '' : escapeHtml(formatNumber(v))}</td>`;
}

function statusClass(t: ReportTrial): string {
  if (t.status === 'completed') return '';
  return t.status === 'running' || t.status === 'pending' ? 'running' : 'failed';
}

function trialsTable(trials: readonly ReportTrial[]): string {
  const params = paramColumns(trials);
  const head = ['trial', ...params.map(paramTitle), 'status', 'phase', 't_train', 't_val', 'R']
    .map((h) => `<th scope="col">${escapeHtml(h)}</th>`)
    .join('');
  const rows = trials
    .map((t) => {
      const cls = statusClass(t);
      const cells = [
        `<td><code>${escapeHtml(t.trialId)}</code></td>`,
        ...params.map((p) => {
          const v = t.params[p];
          return typeof v === 'number' ? numberCell(v) : `<td>${escapeHtml(v)}</td>`;
        }),
        `<td>${escapeHtml(t.status)}${t.error ? `<br><span class="muted">${escapeHtml(t.error)}</span>` : ''}</td>`,
        `<td>${phaseCell(t.phase)}${t.semiGrokking ? ' <span class="muted">(semi-grokking)</span>' : ''}</td>`,
        numberCell(t.tTrain),
        numberCell(t.tVal),
        numberCell(t.ratio),
      ];
      return `<tr${cls ? ` class="${cls}"` : ''} data-trial-id="${escapeHtml(t.trialId)}">${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table id="trials"><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table></div>`;
}

function summary(trials: readonly ReportTrial[]): string {
  const byStatus = new Map<string, number>();
  for (const t of trials) byStatus.set(t.status, (byStatus.get(t.status) ?? 0) + 1);
  const byPhase = PHASES.map((p) => [p, trials.filter((t) => t.phase === p).length] as const);
  const statusText = [...byStatus.entries()].map(([s, n]) => `${escapeHtml(s)}: ${n}`).join(', ') || 'none';
  const phaseText = byPhase.map(([p, n]) => `${phaseCell(p)} ${n}`).join(' &nbsp; ');
  return `<p><strong>${trials.length}</strong> trials (${statusText}).</p><p>Classified trials by phase: ${phaseText}</p>`;
}

function phaseDefinition(input: ReportInput): string {
  const θ = formatNumber(input.phaseRule.threshold);
  const Δ = formatNumber(input.phaseRule.delaySteps);
  return `<p>t<sub>train</sub> and t<sub>val</sub> are the first evaluated steps at which training and validation accuracy reached θ = <strong>${escapeHtml(θ)}</strong>; the grokking delay threshold is Δ = <strong>${escapeHtml(Δ)}</strong> steps.</p>
<dl class="rule">
<dt>${phaseCell('comprehension')}</dt><dd>both reached θ and t<sub>val</sub> − t<sub>train</sub> &lt; Δ</dd>
<dt>${phaseCell('grokking')}</dt><dd>both reached θ and t<sub>val</sub> − t<sub>train</sub> ≥ Δ</dd>
<dt>${phaseCell('memorization')}</dt><dd>only training accuracy reached θ</dd>
<dt>${phaseCell('confusion')}</dt><dd>training accuracy never reached θ</dd>
<dt>${phaseCell('mixed')}</dt><dd>a parameter cell whose seeds have no strict-majority phase (that is where boundaries run)</dd>
</dl>
<p>R = t<sub>val</sub> / t<sub>train</sub> is the grokking delay ratio. Semi-grokking: validation accuracy rose by at least 0.1 after t<sub>train</sub> but ended below θ. Failed, cancelled and running trials are never counted as a phase.</p>`;
}

/** Trials listed by name under each heading of "What's missing"; the rest are counted. */
export const MISSING_LIST_LIMIT = 200;

function missingSection(m: MissingSummary): string {
  const list = (title: string, trials: readonly ReportTrial[], detail: (t: ReportTrial) => string) =>
    trials.length === 0
      ? ''
      : `<h3>${escapeHtml(title)} (${trials.length})</h3><ul>${trials
          .slice(0, MISSING_LIST_LIMIT)
          .map((t) => `<li><code>${escapeHtml(t.trialId)}</code> ${detail(t)}</li>`)
          .join('')}${
          trials.length > MISSING_LIST_LIMIT
            ? `<li class="muted">… and ${trials.length - MISSING_LIST_LIMIT} more (all are in the table below and in trials.csv)</li>`
            : ''
        }</ul>`;
  const params = (t: ReportTrial) => `<span class="muted">${escapeHtml(JSON.stringify(t.params))}</span>`;
  const body = [
    list(
      'Failed trials',
      m.failed,
      (t) => `${escapeHtml(t.status)}${t.error ? `: ${escapeHtml(t.error)}` : ''} ${params(t)}`,
    ),
    list('Cancelled trials', m.cancelled, params),
    list('Still running', m.running, params),
    list('Completed trials without curves', m.withoutCurves, params),
  ].join('');
  return body === ''
    ? '<p id="nothing-missing">Nothing is missing: every trial completed and has its curves.</p>'
    : body;
}

function specBlock(spec: unknown): string {
  if (spec === undefined || spec === null) return '<p class="muted">The sweep spec was not recorded.</p>';
  let text: string;
  try {
    // Lists of plain values on one line ([0.2, 0.4]), as sweep specs are usually written.
    const doc = new Document(spec);
    visit(doc, {
      Seq(_key, node) {
        if (node.items.every(isScalar)) node.flow = true;
      },
    });
    text = doc.toString();
  } catch {
    text = JSON.stringify(spec, null, 2);
  }
  return `<pre id="spec">${escapeHtml(text)}</pre>`;
}

export function renderHtml(page: HtmlPage): string {
  const { input } = page;
  const title = `grokmap report — ${input.sweep.name}`;
  const figures = page.figures
    .map(
      (f) =>
        `<figure id="${escapeHtml(f.id)}"><div class="svg">${scopeSvgIds(f.svg, f.id)}</div><figcaption><strong>${escapeHtml(f.title)}.</strong> ${escapeHtml(f.caption)}</figcaption></figure>`,
    )
    .join('\n');
  const warnings =
    page.warnings.length === 0
      ? ''
      : `<div class="warnings"><strong>Warnings</strong><ul>${page.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>`;
  const axes = [
    page.axes.x ? `x = ${page.axes.x.name}${page.axes.x.log ? ' (log)' : ''}` : null,
    page.axes.y ? `y = ${page.axes.y.name}${page.axes.y.log ? ' (log)' : ''}` : null,
    page.axes.facet ? `panels by ${page.axes.facet}` : null,
    page.axes.seed ? `seeds: ${page.axes.seed}` : null,
  ]
    .filter(Boolean)
    .join('; ');
  const legend = CELL_PHASES.map((p) => phaseCell(p)).join(' &nbsp; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${escapeHtml(input.sweep.name)}</h1>
<p class="meta">sweep <code>${escapeHtml(input.sweep.id)}</code> · status <strong>${escapeHtml(input.sweep.status)}</strong> · ${escapeHtml(axes)}</p>
${input.sweep.verdict ? `<p class="verdict">${escapeHtml(input.sweep.verdict)}</p>` : ''}
${warnings}
<section id="summary"><h2>Summary</h2>${summary(input.trials)}<p class="muted">Colours: ${legend}</p></section>
<section id="figures"><h2>Figures</h2>${figures}</section>
<section id="phases"><h2>How phases were defined</h2>${phaseDefinition(input)}</section>
<section id="missing"><h2>What's missing</h2>${missingSection(page.missing)}</section>
<section id="trial-table"><h2>Trials</h2>${trialsTable(input.trials)}</section>
<section id="sweep-spec"><h2>Sweep spec</h2>${specBlock(input.sweep.spec)}</section>
<section id="files"><h2>Files</h2><ul>${page.files.map((f) => `<li><a href="${escapeHtml(encodeURI(f))}">${escapeHtml(f)}</a></li>`).join('')}</ul></section>
</main>
</body>
</html>
`;
}
