import { z } from 'zod';

/**
 * Options of `method: adaptive` (the spec's `adaptive:` field): which phase
 * boundary to map, how many trials per round, and when the map counts as
 * settled. Only zod here, so the spec stays importable by workflow code.
 */

export const ADAPTIVE_PHASES = ['comprehension', 'grokking', 'memorization', 'confusion'] as const;

const phaseName = z.enum(ADAPTIVE_PHASES);

/** `'phase'`: every boundary of the map; `{ boundary: [a, b] }`: only the one between phases a and b. */
export const adaptiveTargetSchema = z.union([
  z.literal('phase'),
  z
    .strictObject({ boundary: z.tuple([phaseName, phaseName]) })
    .refine((t) => t.boundary[0] !== t.boundary[1], {
      message: 'must name two different phases',
      path: ['boundary'],
    }),
]);
export type AdaptiveTarget = z.output<typeof adaptiveTargetSchema>;

/**
 * Stop once at most 2% of the dense map's cells change, three rounds in a
 * row. In the sampling bench (synthetic oracle and both published grids,
 * seeds 0–9) this stopped every sweep at 96% agreement or more, with a
 * quarter fewer trials on the synthetic map, an eighth fewer on the
 * classification grid and as many on the decoder grid as the earlier
 * 1%-twice rule (medians); 3%-thrice stopped one sweep at 93%.
 */
export const DEFAULT_MAX_CHANGE = 0.02;
export const DEFAULT_PATIENCE = 3;

export const adaptiveStopSchema = z.strictObject({
  /** Share of the dense grid's cells whose phase changed between two rounds, at or below which a round counts as settled. */
  max_change: z.number().min(0).max(1).default(DEFAULT_MAX_CHANGE),
  /** Settled rounds in a row after which the sweep stops. */
  patience: z.number().int().positive().max(100).default(DEFAULT_PATIENCE),
});

export const adaptiveOptionsSchema = z.strictObject({
  target: adaptiveTargetSchema.default('phase'),
  /** Trials per round (default: budget.parallel); smaller rounds are pipelined (analysis/src/samplers/rounds.ts). */
  batch: z.number().int().positive().max(2000).optional(),
  /** Trials of the space-filling design before the first map (default: max(2·batch, 4·axes, 8)). */
  initial: z.number().int().positive().optional(),
  stop_when: adaptiveStopSchema.default({ max_change: DEFAULT_MAX_CHANGE, patience: DEFAULT_PATIENCE }),
});
export type AdaptiveOptions = z.output<typeof adaptiveOptionsSchema>;
export type AdaptiveOptionsInput = z.input<typeof adaptiveOptionsSchema>;
