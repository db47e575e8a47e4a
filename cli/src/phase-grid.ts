import { type AnalysedTrial, aggregateCells, type Cell, type CellPhase } from '@grokmap/analysis';

/** One letter per phase, as in the papers' grids. */
export const PHASE_LETTER: Record<CellPhase, string> = {
  comprehension: 'C',
  grokking: 'G',
  memorization: 'M',
  confusion: 'X',
  mixed: '~',
};

const SEED_KEYS = new Set(['seed', 'seeds', 'random_seed']);
const PREFERRED_X = ['weight_decay', 'wd', 'lr', 'learning_rate'];
const PREFERRED_Y = ['data_fraction', 'train_fraction', 'fraction'];

export interface GridLayout {
  x: string;
  y: string;
  facets: string[];
  cellKeys: string[];
}

/** Which swept parameters go on the axes: weight decay across, data fraction down, the rest as panels. */
export function gridLayout(sweptNames: string[]): GridLayout | undefined {
  const cellKeys = sweptNames.filter((n) => !SEED_KEYS.has(n));
  const x = PREFERRED_X.find((n) => cellKeys.includes(n)) ?? cellKeys[0];
  const y = PREFERRED_Y.find((n) => cellKeys.includes(n) && n !== x) ?? cellKeys.find((n) => n !== x);
  if (!x || !y) return undefined;
  return { x, y, facets: cellKeys.filter((n) => n !== x && n !== y), cellKeys };
}

function sortedValues(cells: Cell[], key: string): unknown[] {
  const values = [...new Map(cells.map((c) => [JSON.stringify(c.params[key]), c.params[key]])).values()];
  return values.sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)),
  );
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(3))) : String(v);
}

/**
 * The phase grid as text: one panel per facet value, data fraction down
 * (largest first, as plotted), weight decay across; `.` where no trial has
 * finished yet, `?` where trials finished without a phase.
 */
export function renderPhaseGrid(trials: AnalysedTrial[], sweptNames: string[]): string {
  const layout = gridLayout(sweptNames);
  if (!layout) return '(no two swept parameters to draw a grid over)';
  const cells = aggregateCells(trials, layout.cellKeys);
  const xs = sortedValues(cells, layout.x);
  const ys = sortedValues(cells, layout.y).reverse();
  const panels = new Map<string, Cell[]>();
  for (const c of cells) {
    const key = layout.facets.map((f) => `${f}=${fmt(c.params[f])}`).join(' ');
    panels.set(key, [...(panels.get(key) ?? []), c]);
  }
  const width = Math.max(5, ...xs.map((x) => fmt(x).length + 1));
  const label = Math.max(layout.y.length, ...ys.map((y) => fmt(y).length));
  const out: string[] = [];
  for (const [panel, panelCells] of [...panels.entries()].sort()) {
    if (panel) out.push(panel);
    out.push(`${layout.y.padStart(label)} \\ ${layout.x}`);
    out.push(`${''.padStart(label)}   ${xs.map((x) => fmt(x).padStart(width)).join('')}`);
    for (const y of ys) {
      const row = xs.map((x) => {
        const cell = panelCells.find((c) => c.params[layout.x] === x && c.params[layout.y] === y);
        const symbol = !cell
          ? ' '
          : cell.phase
            ? PHASE_LETTER[cell.phase]
            : cell.incomplete > 0 || cell.trials === 0
              ? '.'
              : '?';
        return symbol.padStart(width);
      });
      out.push(`${fmt(y).padStart(label)}   ${row.join('')}`);
    }
    out.push('');
  }
  out.push('C comprehension  G grokking  M memorization  X confusion  ~ mixed seeds  . pending  ? failed');
  return out.join('\n');
}

/** Which phases appear in a grid (for the demo's check that all four do). */
export function phasesPresent(trials: AnalysedTrial[]): Set<string> {
  return new Set(trials.flatMap((t) => (t.classification ? [t.classification.phase] : [])));
}
