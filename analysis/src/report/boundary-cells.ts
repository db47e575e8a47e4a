import type { Cell } from '../cells.js';
import type { ResolvedAxes } from './input.js';

/**
 * Which cells the curve small multiples show: pairs of nearby cells whose
 * phases differ (the two sides of a boundary), closest pairs first, each cell
 * used once. Without any boundary, one cell per phase, then the rest in order.
 */
export function pickBoundaryCells(
  panels: readonly (readonly Cell[])[],
  axes: ResolvedAxes,
  max: number,
): { cell: Cell; panel: number }[] {
  const pairs: { a: Cell; b: Cell; panel: number; d: number }[] = [];
  const classified: { cell: Cell; panel: number }[] = [];
  panels.forEach((cells, panel) => {
    const placed = cells.flatMap((cell) => {
      const u = position(cell, axes);
      return cell.phase === null || u === null ? [] : [{ cell, u }];
    });
    const scale = spans(placed.map((p) => p.u));
    for (let i = 0; i < placed.length; i++) {
      classified.push({ cell: placed[i]!.cell, panel });
      for (let j = i + 1; j < placed.length; j++) {
        const a = placed[i]!;
        const b = placed[j]!;
        if (a.cell.phase === b.cell.phase) continue;
        const d = Math.hypot(...a.u.map((v, k) => (v - b.u[k]!) / scale[k]!));
        pairs.push({ a: a.cell, b: b.cell, panel, d });
      }
    }
  });
  pairs.sort((p, q) => p.d - q.d || p.panel - q.panel || p.a.key.localeCompare(q.a.key));
  const used = new Set<string>();
  const id = (panel: number, c: Cell) => `${panel}|${c.key}`;
  const out: { cell: Cell; panel: number }[] = [];
  for (const p of pairs) {
    if (out.length + 2 > max) break;
    if (used.has(id(p.panel, p.a)) || used.has(id(p.panel, p.b))) continue;
    used.add(id(p.panel, p.a));
    used.add(id(p.panel, p.b));
    out.push({ cell: p.a, panel: p.panel }, { cell: p.b, panel: p.panel });
  }
  if (out.length > 0) return out;
  const seenPhases = new Set<string>();
  const firstOfPhase = classified.filter((c) => {
    const fresh = !seenPhases.has(String(c.cell.phase));
    seenPhases.add(String(c.cell.phase));
    return fresh;
  });
  const rest = classified.filter((c) => !firstOfPhase.includes(c));
  return [...firstOfPhase, ...rest].slice(0, max);
}

/** A cell's position on the figure axes (log10 on log axes); null when it has no numeric x. */
function position(cell: Cell, axes: ResolvedAxes): number[] | null {
  const out: number[] = [];
  for (const axis of [axes.x, axes.y]) {
    if (!axis) continue;
    const v = cell.params[axis.name];
    if (typeof v !== 'number' || !Number.isFinite(v) || (axis.log && v <= 0)) return null;
    out.push(axis.log ? Math.log10(v) : v);
  }
  return out.length > 0 ? out : null;
}

function spans(points: readonly number[][]): number[] {
  const dims = points[0]?.length ?? 0;
  return Array.from({ length: dims }, (_, k) => {
    const vs = points.map((p) => p[k]!);
    const s = Math.max(...vs) - Math.min(...vs);
    return s > 0 ? s : 1;
  });
}
