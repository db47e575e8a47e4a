import type { CellPhase } from '../types.js';

/**
 * The fixed look of every figure, so a sweep's figures and a published
 * grid's can be laid side by side: one colour per phase (Okabe–Ito,
 * readable by colour-blind readers), one font (DejaVu Sans, shipped as a TTF
 * by the `dejavu-fonts-ttf` package so PNGs do not depend on system fonts).
 */

export const CELL_PHASES: readonly CellPhase[] = [
  'comprehension',
  'grokking',
  'memorization',
  'confusion',
  'mixed',
];

export const PHASE_COLORS: Readonly<Record<CellPhase, string>> = {
  comprehension: '#009E73',
  grokking: '#E69F00',
  memorization: '#0072B2',
  confusion: '#CC79A7',
  mixed: '#8C8C8C',
};

export const FONT_FAMILY = 'DejaVu Sans';

/** Human axis titles for the parameters sweeps commonly use; others get their name with spaces. */
const PARAM_TITLES: Readonly<Record<string, string>> = {
  weight_decay: 'weight decay λ',
  data_fraction: 'training data fraction',
  model_size: 'model width',
  lr: 'learning rate',
  learning_rate: 'learning rate',
  decoder_learning_rate: 'decoder learning rate',
  decoder_weight_decay: 'decoder weight decay',
  seed: 'seed',
};

/** Short names for crowded labels (curve panel headers). */
const PARAM_SHORT: Readonly<Record<string, string>> = {
  weight_decay: 'λ',
  data_fraction: 'data',
  model_size: 'width',
  learning_rate: 'lr',
  decoder_learning_rate: 'lr',
  decoder_weight_decay: 'λ',
};

export function paramShort(name: string): string {
  return PARAM_SHORT[name] ?? name.replace(/_/g, ' ');
}

export function paramTitle(name: string): string {
  return PARAM_TITLES[name] ?? name.replace(/_/g, ' ');
}

export function axisTitle(name: string, log: boolean): string {
  return `${paramTitle(name)}${log ? ' (log scale)' : ''}`;
}

/** Short number for labels: 3 significant digits, no trailing zeros. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (Number.isInteger(v) && abs < 1e9) return v.toLocaleString('en-US');
  if (abs >= 1e5 || abs < 1e-3) return v.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(3)));
}

/** Shared Vega-Lite config: paper-like fonts, sizes and frames. */
export const VEGA_CONFIG = {
  font: FONT_FAMILY,
  background: 'white',
  padding: 12,
  view: { stroke: '#333333', strokeWidth: 1 },
  title: { fontSize: 15, fontWeight: 'bold', anchor: 'start', subtitleFontSize: 11, subtitleColor: '#444' },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 'normal',
    grid: false,
    tickColor: '#333',
    domainColor: '#333',
    labelColor: '#222',
    titleColor: '#111',
  },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
  header: { labelFontSize: 11, titleFontSize: 12 },
  concat: { spacing: 24 },
  facet: { spacing: 18 },
} as const;

/** Break text into lines of at most `width` characters at spaces (long words stay whole). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
