import { shortHash } from './prng.js';
import { type GridShape, gridPoint, gridShape, randomPoint } from './search-space.js';
import type { SweepSpec } from './spec.js';

/** A planned trial: its identity and the merged parameters its trainer receives. */
export interface PlannedTrial {
  trialId: string;
  index: number;
  params: Record<string, unknown>;
}

/**
 * The deterministic sweep id for a spec: its name plus a hash of its
 * content, so starting the same spec twice finds the same workflow.
 */
export function sweepIdFor(spec: SweepSpec): string {
  return `${spec.name}-${shortHash(spec)}`;
}

/** Trial ids are the sweep id plus the trial's index: unique, stable, and sortable. */
export function trialIdFor(sweepId: string, index: number): string {
  return `${sweepId}.t${String(index).padStart(6, '0')}`;
}

export function mergeParams(
  spec: Pick<SweepSpec, 'fixed'>,
  point: Record<string, unknown>,
): Record<string, unknown> {
  return { ...spec.fixed, ...point };
}

/** How many trials a grid or random sweep plans. Grid: the grid's size (checked against the budget at validation). */
export function plannedTrialCount(spec: SweepSpec): number {
  if (spec.method === 'grid') {
    const g = gridShape(spec);
    return g.ok ? Math.min(g.shape.size, spec.budget.trials) : 0;
  }
  return spec.budget.trials;
}

/**
 * A function from trial index to planned trial, for methods whose plan is
 * fixed up front (grid, random). Builds the grid shape once.
 */
export function staticPlanner(spec: SweepSpec, sweepId: string): (index: number) => PlannedTrial {
  let shape: GridShape | undefined;
  if (spec.method === 'grid') {
    const g = gridShape(spec);
    if (!g.ok) throw new Error(`${g.path.join('.')}: ${g.message}`);
    shape = g.shape;
  }
  return (index) => {
    const point = shape ? gridPoint(shape, index) : randomPoint(spec, index);
    return { trialId: trialIdFor(sweepId, index), index, params: mergeParams(spec, point) };
  };
}
