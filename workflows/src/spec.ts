import { z } from 'zod';
import { adaptiveOptionsSchema } from './adaptive-options.js';
import { carriedTrials, maxCarriedTrials } from './sampler-state-size.js';

export * from './adaptive-options.js';

/**
 * The sweep spec: what a user writes in YAML or JSON. Close to W&B sweeps
 * so it reads at a glance. Every object is strict so a typo is an error
 * with its path, not a silently ignored key.
 */

/** Names become workflow ids and file names: no separators, no dot-dot. */
export const safeIdentifier = z
  .string()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "must use only letters, digits, '-', '_' and '.', starting with a letter or digit",
  )
  .refine((s) => !s.includes('..'), { message: "must not contain '..'" });

const scalar = z.union([z.number(), z.string(), z.boolean()]);
export type Scalar = z.infer<typeof scalar>;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const constantParam = z.strictObject({ distribution: z.literal('constant'), value: z.unknown() });
const categoricalParam = z.strictObject({
  distribution: z.literal('categorical'),
  values: z.array(z.unknown()).min(1, 'must list at least one value'),
});
const uniformParam = z.strictObject({ distribution: z.literal('uniform'), min: finite, max: finite });
const logUniformParam = z.strictObject({
  distribution: z.literal('log_uniform_values'),
  min: finite.refine((x) => x > 0, 'must be > 0 for a log-uniform distribution'),
  max: finite.refine((x) => x > 0, 'must be > 0 for a log-uniform distribution'),
});
const intUniformParam = z.strictObject({
  distribution: z.literal('int_uniform'),
  min: z.number().int('must be an integer'),
  max: z.number().int('must be an integer'),
});
const qUniformParam = z.strictObject({
  distribution: z.literal('q_uniform'),
  min: finite,
  max: finite,
  q: finite.refine((x) => x > 0, 'must be > 0'),
});

const DISTRIBUTIONS = [
  'constant',
  'categorical',
  'uniform',
  'log_uniform_values',
  'int_uniform',
  'q_uniform',
] as const;

/** W&B shorthand: `{value}` is a constant, `{values}` a categorical, `{min, max}` uniform. */
function inferDistribution(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || 'distribution' in raw) return raw;
  if ('value' in raw) return { distribution: 'constant', ...raw };
  if ('values' in raw) return { distribution: 'categorical', ...raw };
  if ('min' in raw || 'max' in raw) return { distribution: 'uniform', ...raw };
  return raw;
}

export const parameterSchema = z
  .preprocess(
    inferDistribution,
    z.discriminatedUnion(
      'distribution',
      [constantParam, categoricalParam, uniformParam, logUniformParam, intUniformParam, qUniformParam],
      {
        error: (issue) =>
          issue.code === 'invalid_union'
            ? `needs one of value, values, or distribution (${DISTRIBUTIONS.join(', ')}) with its bounds`
            : undefined,
      },
    ),
  )
  .superRefine((p, ctx) => {
    if ('min' in p && 'max' in p && p.min > p.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${p.min}) is above max (${p.max})` });
    }
  });
export type ParameterSpec = z.infer<typeof parameterSchema>;

export const METHODS = ['grid', 'random', 'bayes', 'adaptive'] as const;
export type SweepMethod = (typeof METHODS)[number];

/** Largest number of trials any sweep may plan; bigger sweeps are refused before they start. */
export const HARD_TRIAL_CAP = 1_000_000;

export const sweepSpecSchema = z
  .strictObject({
    name: safeIdentifier,
    description: z.string().optional(),
    trainer: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be a trainer name (lower-case letters, digits, -)'),
    method: z.enum(METHODS),
    /** Seeds random/bayes/adaptive proposals; the same seed proposes the same trials. */
    seed: z.number().int().nonnegative().default(0),
    metric: z.strictObject({ name: z.string().min(1), goal: z.enum(['minimize', 'maximize']) }).optional(),
    budget: z.strictObject({
      trials: z.number().int().positive().max(HARD_TRIAL_CAP, `must be at most ${HARD_TRIAL_CAP}`),
      parallel: z.number().int().positive().max(2000).default(4),
      /**
       * Failed trials (error, timed out) tolerated before the sweep stops with a verdict, over the
       * whole sweep (a partitioned or sharded one too; shards side by side may overshoot by the
       * failures of those running when the budget is spent).
       */
      max_failures: z.number().int().nonnegative().optional(),
      /**
       * Bayes and adaptive sweeps: how many of the latest trials a round may be proposed without
       * seeing (default: 0 with whole batches, 2·parallel − batch with smaller ones; see rounds.ts).
       */
      lag: z.number().int().nonnegative().max(HARD_TRIAL_CAP).optional(),
    }),
    parameters: z
      .record(safeIdentifier, parameterSchema)
      .refine((p) => Object.keys(p).length > 0, 'must define at least one parameter'),
    fixed: z.record(safeIdentifier, z.unknown()).default({}),
    phase: z
      .strictObject({
        threshold: z.number().gt(0).max(1).default(0.99),
        delay_steps: z.number().int().nonnegative().default(1000),
      })
      .default({ threshold: 0.99, delay_steps: 1000 }),
    resources: z
      .strictObject({
        queue: safeIdentifier.default('cpu'),
        /**
         * Trials per trainer activity: the worker trains a pack in one process, together where
         * the trainer packs (batched weights on a GPU), and each trial is still recorded on its own.
         * Also what amortises orchestration for trials that take milliseconds. Absent means 1.
         */
        pack: z.number().int().min(1).max(1024).optional(),
      })
      .default({ queue: 'cpu' }),
    limits: z
      .strictObject({
        max_attempts: z.number().int().positive().max(100).default(3),
        heartbeat_timeout_s: z.number().positive().max(3600).default(30),
        trial_timeout_s: z
          .number()
          .positive()
          .default(24 * 3600),
      })
      .default({ max_attempts: 3, heartbeat_timeout_s: 30, trial_timeout_s: 24 * 3600 }),
    /** Settings of `method: adaptive` (see adaptive-options.ts). */
    adaptive: adaptiveOptionsSchema.optional(),
    /** Settings of `method: bayes`. */
    bayes: z
      .strictObject({
        /**
         * Trials per proposal round (default: budget.parallel, whole batches). Smaller rounds are
         * pipelined: each goes out once a round's worth of the fleet is free and the trials it is to
         * see (all but the latest budget.lag) have finished (analysis/src/samplers/rounds.ts).
         */
        batch: z.number().int().positive().max(2000).optional(),
      })
      .optional(),
    regression: z
      .strictObject({
        max_changed_cells: z.number().min(0).max(1).default(0.1),
        max_boundary_shift: z.number().nonnegative().default(0.1),
        /** What a scheduled run is compared with: a sweep id, `last-pass` (the default) or `none`. */
        baseline: z.string().min(1).optional(),
        /** Share of the baseline's cells whose seeds must agree; below it the verdict is inconclusive. */
        min_confidence: z.number().min(0).max(1).default(0.5),
        /**
         * Boundary points whose baseline interval is wider than this share of the
         * sampled range are too uncertain to judge a shift on.
         */
        max_baseline_width: z.number().gt(0).max(1).default(0.5),
        /** Regressed when the median delay ratio R changes by more than this factor (off when absent). */
        max_delay_ratio_change: z.number().gt(1).optional(),
      })
      .optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.method === 'bayes' && !spec.metric) {
      ctx.addIssue({ code: 'custom', path: ['metric'], message: 'is required for method bayes' });
    }
    if (spec.budget.lag !== undefined && spec.method !== 'bayes' && spec.method !== 'adaptive') {
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'lag'],
        message: `is read only by bayes and adaptive sweeps, not ${spec.method}: their trials never wait for results`,
      });
    }
    if (spec.bayes && spec.method !== 'bayes') {
      ctx.addIssue({
        code: 'custom',
        path: ['bayes'],
        message: `is read only by method bayes, not ${spec.method}`,
      });
    }
    if (spec.bayes?.batch !== undefined && spec.bayes.batch > spec.budget.parallel) {
      ctx.addIssue({
        code: 'custom',
        path: ['bayes', 'batch'],
        message: `(${spec.bayes.batch}) is larger than budget.parallel (${spec.budget.parallel}): a round is at most the trials in flight`,
      });
    }
    if (spec.method === 'bayes' || spec.method === 'adaptive') {
      const most = maxCarriedTrials(spec);
      const carried = carriedTrials(spec);
      if (carried > most) {
        const lagSet = spec.budget.lag !== undefined;
        ctx.addIssue({
          code: 'custom',
          path: ['budget', lagSet ? 'lag' : 'parallel'],
          message: `(${lagSet ? spec.budget.lag : spec.budget.parallel}) makes this ${spec.method} sweep carry up to ${carried} trials' points and results (the trials in flight and those a round may not yet see), more than the ${most} that fit in a Temporal payload (2 MB) with these parameters; lower ${lagSet ? 'budget.lag' : 'budget.parallel'}`,
        });
      }
    }
    const pack = spec.resources.pack ?? 1;
    if (pack > spec.budget.parallel) {
      ctx.addIssue({
        code: 'custom',
        path: ['resources', 'pack'],
        message: `(${pack}) is larger than budget.parallel (${spec.budget.parallel}): a pack holds at most the trials in flight`,
      });
    }
    for (const key of Object.keys(spec.fixed)) {
      if (key in spec.parameters) {
        ctx.addIssue({ code: 'custom', path: ['fixed', key], message: `is also a swept parameter` });
      }
    }
  });

export type SweepSpec = z.output<typeof sweepSpecSchema>;
export type SweepSpecInput = z.input<typeof sweepSpecSchema>;
