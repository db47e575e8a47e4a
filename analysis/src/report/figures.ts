import type { CurvePoint } from '@grokmap/plugin-sdk';
import type { Cell } from '../cells.js';
import type { CellPhase, Phase } from '../types.js';
import { axisDomain, cellEdges, type Interval } from './geometry.js';
import type { VegaLiteSpec } from './render.js';
import { axisTitle, CELL_PHASES, formatNumber, PHASE_COLORS } from './style.js';

/**
 * Vega-Lite specs of the report's figures, built from plain data. Every
 * figure shares the phase colours of style.ts, so a sweep's phase diagram and
 * a published grid's read the same way.
 */

export interface FigureAxis {
  name: string;
  log: boolean;
}

/** One estimated point of a phase map: its coordinates [x, y], phase probabilities and uncertainty in [0, 1]. */
export interface PhaseMapPoint {
  x: readonly number[];
  probs?: Partial<Record<Phase, number>>;
  phase: CellPhase;
  uncertainty: number;
}

/** One panel of a phase diagram: the sampled cells of one facet value and its estimated map. */
export interface PhasePanel {
  title: string;
  cells: readonly Cell[];
  /** Background: an estimated phase map over [x, y]; null draws the sampled cells as the background. */
  map: readonly PhaseMapPoint[] | null;
  /** Mark each sampled cell with a point (off for dense published grids). */
  markers: boolean;
}

export interface PhaseFigure {
  title: string;
  subtitle: string[];
  x: FigureAxis;
  y: FigureAxis;
  panels: readonly PhasePanel[];
  /** Panel size in px (default 260 × 220). */
  size?: { width: number; height: number };
}

const PANEL_WIDTH = 260;
const PANEL_HEIGHT = 220;

const MARKER_KINDS = ['classified', 'failed / cancelled only', 'still running'] as const;
const MARKER_SHAPES = ['circle', 'cross', 'triangle-up'];

const phaseFill = (legendTitle: string | null) => ({
  field: 'phase',
  type: 'nominal',
  scale: { domain: [...CELL_PHASES], range: CELL_PHASES.map((p) => PHASE_COLORS[p]) },
  legend: legendTitle === null ? null : { title: legendTitle, symbolType: 'square', symbolSize: 160 },
});

function positional(axis: FigureAxis, field: string, domain: [number, number] | null, isX: boolean) {
  return {
    field,
    type: 'quantitative',
    scale: {
      type: axis.log ? 'log' : 'linear',
      ...(domain ? { domain } : {}),
      nice: false,
      zero: false,
    },
    axis: {
      title: axisTitle(axis.name, axis.log),
      format: axis.log ? '~g' : '~r',
      tickCount: isX ? 6 : 5,
      labelOverlap: true,
    },
  };
}

export interface Rect {
  x: number;
  x2: number;
  y: number;
  y2: number;
  phase: CellPhase;
  /** The phase colour faded towards white by uncertainty (opaque, so neighbouring cells leave no seams). */
  color: string;
}

/** `hex` blended with white: alpha 1 is the colour itself, 0 is white. */
export function fadeToWhite(hex: string, alpha: number): string {
  const a = Math.min(1, Math.max(0, alpha));
  const channel = (i: number) => {
    const c = Number.parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16);
    return Math.round(c * a + 255 * (1 - a))
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(0)}${channel(1)}${channel(2)}`;
}

/**
 * Background rectangles of a panel: the estimated map faded by uncertainty,
 * or the cells themselves faded by seed agreement. The outermost rectangles
 * reach the edges of the plot.
 */
function backgroundRects(
  panel: PhasePanel,
  x: FigureAxis,
  y: FigureAxis,
  domains: { x: [number, number] | null; y: [number, number] | null },
): Rect[] {
  const points: { cx: number; cy: number; phase: CellPhase; alpha: number }[] = panel.map
    ? panel.map.map((p) => ({
        cx: p.x[0]!,
        cy: p.x[1]!,
        phase: p.phase,
        alpha: 0.12 + 0.7 * (1 - Math.min(1, Math.max(0, p.uncertainty))),
      }))
    : panel.cells.flatMap((c) => {
        const cx = c.params[x.name];
        const cy = c.params[y.name];
        if (c.phase === null || typeof cx !== 'number' || typeof cy !== 'number') return [];
        return [{ cx, cy, phase: c.phase, alpha: 0.25 + 0.75 * (c.agreement ?? 0) }];
      });
  const xe = stretch(
    cellEdges(
      points.map((p) => p.cx),
      x.log,
    ),
    domains.x,
  );
  const ye = stretch(
    cellEdges(
      points.map((p) => p.cy),
      y.log,
    ),
    domains.y,
  );
  const rects = points.flatMap((p) => {
    const ex = xe.get(p.cx);
    const ey = ye.get(p.cy);
    if (!ex || !ey) return [];
    // Shading in steps of 1/12 is finer than the eye needs and lets equal neighbours merge.
    const color = fadeToWhite(PHASE_COLORS[p.phase], Math.round(p.alpha * 12) / 12);
    return [{ x: ex.lo, x2: ex.hi, y: ey.lo, y2: ey.hi, phase: p.phase, color }];
  });
  return mergeRuns(rects);
}

/** Join horizontally adjacent rectangles of one row and colour (keeps SVGs of fine maps small). */
export function mergeRuns(rects: readonly Rect[]): Rect[] {
  const sorted = [...rects].sort((a, b) => a.y - b.y || a.x - b.x);
  const out: Rect[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.y === r.y && last.y2 === r.y2 && last.color === r.color && last.x2 === r.x) {
      last.x2 = r.x2;
    } else out.push({ ...r });
  }
  return out;
}

/** Widen the first and last interval to the plot's domain. */
function stretch(edges: Map<number, Interval>, domain: [number, number] | null): Map<number, Interval> {
  if (!domain || edges.size === 0) return edges;
  const keys = [...edges.keys()].sort((a, b) => a - b);
  const first = edges.get(keys[0]!)!;
  const last = edges.get(keys[keys.length - 1]!)!;
  edges.set(keys[0]!, { lo: Math.min(first.lo, domain[0]), hi: first.hi });
  const lastNow = edges.get(keys[keys.length - 1]!)!;
  edges.set(keys[keys.length - 1]!, { lo: lastNow.lo, hi: Math.max(last.hi, domain[1]) });
  return edges;
}

function markerKind(c: Cell): (typeof MARKER_KINDS)[number] {
  if (c.classified > 0) return 'classified';
  return c.incomplete > 0 ? 'still running' : 'failed / cancelled only';
}

function cellLabel(c: Cell): string {
  const votes = Object.entries(c.counts)
    .filter(([, n]) => n > 0)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  const extra = [c.failed > 0 ? `${c.failed} failed` : '', c.incomplete > 0 ? `${c.incomplete} running` : '']
    .filter(Boolean)
    .join(', ');
  return [votes, extra].filter(Boolean).join('; ') || 'no result';
}

function markerPoints(panel: PhasePanel, x: FigureAxis, y: FigureAxis) {
  return panel.cells.flatMap((c) => {
    const cx = c.params[x.name];
    const cy = c.params[y.name];
    if (typeof cx !== 'number' || typeof cy !== 'number') return [];
    return [{ x: cx, y: cy, phase: c.phase, kind: markerKind(c), label: cellLabel(c) }];
  });
}

/** Domains covering the sampled cells of every panel (or the map where there are none), shared by all panels. */
function sharedDomains(fig: PhaseFigure): { x: [number, number] | null; y: [number, number] | null } {
  const domain = (axis: FigureAxis, d: 0 | 1) => {
    const sampled = fig.panels.flatMap((p) => numbers(p.cells, axis.name));
    const mapped = fig.panels.flatMap((p) => (p.map ?? []).map((m) => m.x[d]!));
    return axisDomain(cellEdges(sampled.length > 0 ? sampled : mapped, axis.log));
  };
  return { x: domain(fig.x, 0), y: domain(fig.y, 1) };
}

/** The phase diagram: one heatmap panel per facet value, shared axes and legend. */
export function phaseDiagramSpec(fig: PhaseFigure): VegaLiteSpec {
  const domains = sharedDomains(fig);
  const panels = fig.panels.map((panel, i) => {
    const x = positional(fig.x, 'x', domains.x, true);
    const y = positional(fig.y, 'y', domains.y, false);
    const layers: VegaLiteSpec[] = [
      {
        data: { values: backgroundRects(panel, fig.x, fig.y, domains) },
        mark: { type: 'rect', strokeWidth: 0.6, aria: false },
        encoding: {
          x,
          x2: { field: 'x2' },
          y,
          y2: { field: 'y2' },
          fill: { field: 'color', type: 'nominal', scale: null },
          stroke: { field: 'color', type: 'nominal', scale: null },
        },
      },
    ];
    if (i === 0 && domains.x && domains.y) {
      // Legend only: one invisible point per phase, so every phase is listed even when absent.
      const at = { x: domains.x[0], y: domains.y[0] };
      layers.push({
        data: { values: CELL_PHASES.map((phase) => ({ ...at, phase })) },
        mark: { type: 'point', filled: true, opacity: 0, aria: false },
        encoding: {
          x,
          y,
          fill: {
            ...phaseFill('phase'),
            legend: { title: 'phase', symbolType: 'square', symbolSize: 160, symbolOpacity: 1 },
          },
        },
      });
    }
    if (panel.markers) {
      layers.push({
        data: { values: markerPoints(panel, fig.x, fig.y) },
        mark: { type: 'point', filled: false, color: '#111111', size: 46, strokeWidth: 0.9, opacity: 1 },
        encoding: {
          x,
          y,
          fill: {
            condition: { test: 'datum.phase === null', value: '#ffffff' },
            ...phaseFill(null),
          },
          shape: {
            field: 'kind',
            type: 'nominal',
            scale: { domain: [...MARKER_KINDS], range: MARKER_SHAPES },
            legend:
              i === 0
                ? {
                    title: 'sampled cells',
                    labelLimit: 260,
                    encoding: {
                      symbols: {
                        fill: { value: '#ffffff' },
                        stroke: { value: '#111111' },
                        strokeWidth: { value: 1.2 },
                      },
                    },
                  }
                : null,
          },
          tooltip: [{ field: 'label', type: 'nominal', title: 'seeds' }],
        },
      });
    }
    return {
      title: { text: panel.title, fontSize: 13, fontWeight: 'normal' },
      width: fig.size?.width ?? PANEL_WIDTH,
      height: fig.size?.height ?? PANEL_HEIGHT,
      layer: layers,
    };
  });
  return {
    title: { text: fig.title, subtitle: fig.subtitle },
    concat: panels,
    columns: Math.min(3, Math.max(1, panels.length)),
    resolve: { scale: { fill: 'shared', shape: 'shared', x: 'shared', y: 'shared' } },
  };
}

export interface DelayPanel {
  title: string;
  cells: readonly Cell[];
}

/** Grokking delay: log10 of the median R = t_val / t_train per sampled cell; cells without R are grey. */
export function delayHeatmapSpec(opts: {
  title: string;
  subtitle: string[];
  x: FigureAxis;
  y: FigureAxis;
  panels: readonly DelayPanel[];
}): VegaLiteSpec {
  const all = opts.panels.flatMap((p) => p.cells);
  const xe = cellEdges(numbers(all, opts.x.name), opts.x.log);
  const ye = cellEdges(numbers(all, opts.y.name), opts.y.log);
  const domains = { x: axisDomain(xe), y: axisDomain(ye) };
  const places = new Set(all.map((c) => `${c.params[opts.x.name]}|${c.params[opts.y.name]}`));
  const gridLike = places.size >= 0.5 * xe.size * ye.size;
  // Numbers on the dark (low) end of viridis are printed in white.
  const ratios = all.flatMap((c) =>
    c.medianRatio !== null && c.medianRatio > 0 ? [Math.log10(c.medianRatio)] : [],
  );
  const darkBelow = ratios.length > 0 ? 0.45 * Math.max(...ratios, 0) : 0;
  const panels = opts.panels.map((panel, i) => {
    const rows = panel.cells.flatMap((c) => {
      const ex = edge(xe, c.params[opts.x.name]);
      const ey = edge(ye, c.params[opts.y.name]);
      if (!ex || !ey) return [];
      const r = c.medianRatio;
      const logR = r !== null && r > 0 ? Math.log10(r) : null;
      return [
        {
          x: ex.lo,
          x2: ex.hi,
          y: ey.lo,
          y2: ey.hi,
          cx: c.params[opts.x.name],
          cy: c.params[opts.y.name],
          logR,
          text: r === null ? '–' : formatNumber(r),
        },
      ];
    });
    const withR = rows.filter((r) => r.logR !== null);
    const withoutR = rows.filter((r) => r.logR === null);
    // A grid tiles the plane; scattered samples (random, bayes, adaptive) are drawn as squares.
    const place = gridLike
      ? {
          mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 0.5 },
          encoding: {
            x: positional(opts.x, 'x', domains.x, true),
            x2: { field: 'x2' },
            y: positional(opts.y, 'y', domains.y, false),
            y2: { field: 'y2' },
          },
        }
      : {
          mark: { type: 'square', size: 70, stroke: '#ffffff', strokeWidth: 0.5, opacity: 1 },
          encoding: {
            x: positional(opts.x, 'cx', domains.x, true),
            y: positional(opts.y, 'cy', domains.y, false),
          },
        };
    const layers: VegaLiteSpec[] = [
      {
        data: { values: withoutR },
        mark: { ...place.mark, fill: '#e4e4e4' },
        encoding: place.encoding,
      },
      {
        data: { values: withR },
        mark: place.mark,
        encoding: {
          ...place.encoding,
          fill: {
            field: 'logR',
            type: 'quantitative',
            scale: { scheme: 'viridis', zero: true },
            legend: i === 0 ? { title: 'log₁₀ R', orient: 'right', gradientLength: 160 } : null,
          },
        },
      },
    ];
    if (gridLike && rows.length <= 150) {
      layers.push({
        data: { values: rows },
        mark: { type: 'text', fontSize: 8 },
        encoding: {
          color: {
            condition: { test: `datum.logR !== null && datum.logR < ${darkBelow}`, value: '#ffffff' },
            value: '#222222',
          },
          x: { ...positional(opts.x, 'cx', domains.x, true) },
          y: { ...positional(opts.y, 'cy', domains.y, false) },
          text: { field: 'text', type: 'nominal' },
        },
      });
    }
    return {
      title: { text: panel.title, fontSize: 13, fontWeight: 'normal' },
      width: PANEL_WIDTH,
      height: PANEL_HEIGHT,
      layer: layers,
    };
  });
  return {
    title: { text: opts.title, subtitle: opts.subtitle },
    concat: panels,
    columns: Math.min(3, Math.max(1, panels.length)),
    resolve: { scale: { fill: 'shared', x: 'shared', y: 'shared' } },
  };
}

function numbers(cells: readonly Cell[], name: string): number[] {
  return cells.flatMap((c) => {
    const v = c.params[name];
    return typeof v === 'number' ? [v] : [];
  });
}

function edge(edges: Map<number, Interval>, v: unknown): Interval | undefined {
  return typeof v === 'number' ? edges.get(v) : undefined;
}

export interface CurvePanel {
  /** Header of the small multiple, e.g. "grokking · λ 0.1, data 0.4". */
  label: string;
  phase: CellPhase | null;
  curves: readonly CurvePoint[];
}

/** Small multiples of train and validation accuracy against step (log axis), θ dashed. */
export function curvesSpec(opts: {
  title: string;
  subtitle: string[];
  threshold: number;
  panels: readonly CurvePanel[];
}): VegaLiteSpec {
  const values = opts.panels.flatMap((p) =>
    p.curves
      .filter((c) => c.step > 0)
      .flatMap((c) => [
        { panel: p.label, step: c.step, acc: c.trainAcc, series: 'train' },
        { panel: p.label, step: c.step, acc: c.valAcc, series: 'validation' },
      ]),
  );
  return {
    title: { text: opts.title, subtitle: opts.subtitle },
    data: { values },
    facet: {
      field: 'panel',
      type: 'nominal',
      sort: opts.panels.map((p) => p.label),
      title: null,
      header: { labelFontSize: 11, labelLimit: 0, labelExpr: "split(datum.label, '\\n')" },
    },
    // Two columns: the boundary pairs sit side by side.
    columns: Math.min(2, Math.max(1, opts.panels.length)),
    spec: {
      width: 260,
      height: 150,
      layer: [
        {
          mark: { type: 'line', strokeWidth: 1.6, interpolate: 'monotone' },
          encoding: {
            x: {
              field: 'step',
              type: 'quantitative',
              scale: { type: 'log', nice: false },
              axis: { title: 'training step (log scale)', format: '~s', tickCount: 5 },
            },
            y: {
              field: 'acc',
              type: 'quantitative',
              scale: { domain: [0, 1] },
              axis: { title: 'accuracy', tickCount: 5, format: '.1f' },
            },
            color: {
              field: 'series',
              type: 'nominal',
              scale: { domain: ['train', 'validation'], range: ['#333333', '#D55E00'] },
              legend: { title: 'accuracy on', orient: 'top' },
            },
          },
        },
        {
          transform: [{ aggregate: [{ op: 'count', as: 'n' }] }],
          mark: { type: 'rule', strokeDash: [4, 3], color: '#888888' },
          encoding: { y: { datum: opts.threshold } },
        },
      ],
    },
    resolve: { scale: { x: 'shared' } },
  };
}
