import { z } from 'zod';

/**
 * Test-only failure hooks. They exist so fault-tolerance tests (retries,
 * heartbeat timeouts, killed workers) have a trainer that fails on demand;
 * never use them in a real sweep.
 *
 * - `throw`: throws an Error at `fail_at_step` (the worker maps it to `error`).
 * - `nan`:   reports a NaN training loss at `fail_at_step` and returns `diverged`.
 * - `hang`:  stops at `fail_at_step` and never reports again; returns `cancelled`
 *            only once the context's signal aborts (a heartbeat-timeout test).
 * - `oom`:   allocates memory at `fail_at_step` until the process dies.
 * - `segfault`: the process sends itself SIGSEGV at `fail_at_step`, as a
 *            crashing native extension would (never call it in-process).
 * - `none`:  nothing fires; so a grid over `fail` can hold trials that run normally.
 */
export const FAILURE_HOOKS = ['throw', 'nan', 'hang', 'oom', 'segfault', 'none'] as const;
export type FailureHook = (typeof FAILURE_HOOKS)[number];

const positiveInt = z.number().int().positive();

export const syntheticParamsSchema = z
  .strictObject({
    /** AdamW-style decoupled weight decay; the model works on log10 of it (0 is treated as 1e-4). */
    weight_decay: z.number().nonnegative().default(1),
    /** Fraction of all examples used for training; the rest is the validation set. */
    data_fraction: z.number().gt(0).lt(1).default(0.5),
    /** Width of the (imaginary) network; the model works on log2(model_size / 128). */
    model_size: positiveInt.default(128),
    /** Seed of the run-to-run noise; the same seed and parameters give the same outcome. */
    seed: z.number().int().default(0),
    max_steps: positiveInt.default(20_000),
    /** Evaluation spacing once the early, log-spaced evaluations are this far apart. */
    eval_every: positiveInt.default(50),
    /** Steps between checkpoints; defaults to a tenth of `max_steps`. */
    checkpoint_every: positiveInt.optional(),
    /** Real time to wait at each evaluated step, so scheduling and cancellation tests have time to act. */
    step_delay_ms: z.number().nonnegative().default(0),
    /**
     * Moves the critical data fraction by this much (positive: more data
     * needed to generalize). Regression tests use it to simulate a change
     * in the training code that moves the phase boundary.
     */
    shift: z.number().default(0),
    /** Test-only failure hook, see FAILURE_HOOKS. */
    fail: z.enum(FAILURE_HOOKS).optional(),
    /** Step at which `fail` fires; defaults to half of `max_steps`. */
    fail_at_step: positiveInt.optional(),
    /** `fail` fires only on attempts up to this one (so a retry can succeed); defaults to every attempt. */
    fail_attempts: positiveInt.optional(),
  })
  .refine((p) => p.fail_at_step === undefined || p.fail_at_step <= p.max_steps, {
    message: 'must be at most max_steps',
    path: ['fail_at_step'],
  });

export type SyntheticParams = z.output<typeof syntheticParamsSchema>;
export type SyntheticParamsInput = z.input<typeof syntheticParamsSchema>;
