import { z } from 'zod';
import { classifyTimes, delayRatio } from './classify.js';
import { type AnalysedTrial, PHASES, type Phase, type PhaseRule } from './types.js';

/**
 * Published phase grids (shared/reference/liu2022-phase-grids.json): Liu et
 * al. (2022) trained their toy addition model over a grid of two knobs and
 * saved, per run, the first step at which train and validation accuracy
 * reached 90% (a sentinel such as 99999 for "not within the budget").
 *
 * Liu's rule is ours with θ = 0.9 and Δ = 1000 steps: comprehension if both
 * reach 90% and t_val − t_train < 1000, grokking if the delay is ≥ 1000,
 * memorization if only train reaches it, confusion if neither.
 */

/** Liu et al.'s rule: θ = 0.9, Δ = 1000 steps (the file's `phase_rule`). */
export const LIU_RULE: PhaseRule = { threshold: 0.9, delaySteps: 1000 };

const axisSchema = z.object({ param: z.string().min(1), values: z.array(z.number()).min(1) });
const stepsSchema = z.array(z.array(z.number().int().nonnegative()));

const gridSchema = z
  .object({
    name: z.string(),
    source: z.string().optional(),
    description: z.string().optional(),
    budget_steps: z.number().int().positive(),
    not_reached_value: z.number().int(),
    accuracy_threshold: z.number().gt(0).max(1),
    rows: axisSchema,
    cols: axisSchema,
    train_steps: stepsSchema,
    val_steps: stepsSchema,
  })
  .superRefine((g, ctx) => {
    for (const key of ['train_steps', 'val_steps'] as const) {
      const m = g[key];
      if (m.length !== g.rows.values.length) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `has ${m.length} rows, expected ${g.rows.values.length}`,
        });
      }
      m.forEach((row, i) => {
        if (row.length !== g.cols.values.length) {
          ctx.addIssue({
            code: 'custom',
            path: [key, i],
            message: `has ${row.length} columns, expected ${g.cols.values.length}`,
          });
        }
      });
    }
  });

export const referenceFileSchema = z.object({
  phase_rule: z.string().optional(),
  grids: z.record(z.string(), gridSchema),
});
export type ReferenceFile = z.infer<typeof referenceFileSchema>;

export interface ReferenceAxis {
  param: string;
  values: number[];
}

/** One run of a reference grid and its phase under the grid's rule. */
export interface ReferenceCell {
  row: number;
  col: number;
  /** `{ [rows.param]: rowValue, [cols.param]: colValue }`. */
  params: Record<string, number>;
  /** First step at which train accuracy reached θ, null if never within the budget. */
  tTrain: number | null;
  tVal: number | null;
  phase: Phase;
}

export interface ReferenceGrid {
  name: string;
  source?: string;
  description?: string;
  budgetSteps: number;
  rule: PhaseRule;
  rows: ReferenceAxis;
  cols: ReferenceAxis;
  /** Row-major: cells[row * cols.values.length + col]. */
  cells: ReferenceCell[];
}

/** Names of the grids in a reference file. */
export function referenceGridNames(json: unknown): string[] {
  return Object.keys(parseReferenceFile(json).grids).sort();
}

/**
 * Load one grid of a reference file (parsed JSON or its text) and classify
 * every run with the grid's threshold and Liu's delay (or `rule.delaySteps`).
 * Throws with the zod issues when the file does not have the expected shape.
 */
export function loadReferenceGrid(
  json: unknown,
  name: string,
  rule: Pick<PhaseRule, 'delaySteps'> = LIU_RULE,
): ReferenceGrid {
  const file = parseReferenceFile(json);
  const g = file.grids[name];
  if (!g) {
    throw new Error(
      `reference grid '${name}' not found; known: ${Object.keys(file.grids).sort().join(', ')}`,
    );
  }
  const gridRule: PhaseRule = { threshold: g.accuracy_threshold, delaySteps: rule.delaySteps };
  const reached = (step: number) => (step === g.not_reached_value || step >= g.budget_steps ? null : step);
  const cells: ReferenceCell[] = [];
  g.rows.values.forEach((rowValue, row) => {
    g.cols.values.forEach((colValue, col) => {
      const tTrain = reached(g.train_steps[row]![col]!);
      const tVal = reached(g.val_steps[row]![col]!);
      cells.push({
        row,
        col,
        params: { [g.rows.param]: rowValue, [g.cols.param]: colValue },
        tTrain,
        tVal,
        phase: classifyTimes(tTrain, tVal, gridRule),
      });
    });
  });
  return {
    name: g.name,
    ...(g.source === undefined ? {} : { source: g.source }),
    ...(g.description === undefined ? {} : { description: g.description }),
    budgetSteps: g.budget_steps,
    rule: gridRule,
    rows: g.rows,
    cols: g.cols,
    cells,
  };
}

/** How many cells of each phase a set of cells holds (every phase present, zeros included). */
export function countPhases(cells: readonly { phase: Phase }[]): Record<Phase, number> {
  const counts = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
  for (const c of cells) counts[c.phase]++;
  return counts;
}

/**
 * A reference grid as analysed trials (one seed per cell), so it goes through
 * the same aggregation, phase-map and report code as a sweep.
 */
export function referenceTrials(grid: ReferenceGrid): AnalysedTrial[] {
  return grid.cells.map((c) => ({
    trialId: `${grid.name}/${c.row}-${c.col}`,
    params: c.params,
    status: 'completed',
    classification: {
      phase: c.phase,
      tTrain: c.tTrain,
      tVal: c.tVal,
      ratio: delayRatio(c.tTrain, c.tVal),
      valAtTrain: null,
      semiGrokking: false,
    },
  }));
}

function parseReferenceFile(json: unknown): ReferenceFile {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  const parsed = referenceFileSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid reference file: ${issues.join('; ')}`);
  }
  return parsed.data;
}
