import { z } from 'zod';

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

export const operations = ['a+b', 'a-b', 'a*b', 'a/b'] as const;
export type Operation = (typeof operations)[number];

export const backendChoices = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const;
export type BackendChoice = (typeof backendChoices)[number];

/**
 * Parameters of one modular-arithmetic trial. Strict: an unknown key is a
 * typo in a sweep spec and is refused with its path.
 */
export const modularArithmeticParams = z
  .object({
    p: z
      .number()
      .int()
      .min(3)
      .max(1009)
      .default(97)
      .refine(isPrime, { message: 'p must be a prime (the tasks are arithmetic in the field Z/pZ)' }),
    operation: z.enum(operations).default('a+b'),
    data_fraction: z
      .number()
      .gt(0, { message: 'data_fraction must be in (0, 1)' })
      .lt(1, { message: 'data_fraction must be in (0, 1)' })
      .default(0.5),
    model: z.enum(['mlp', 'transformer']).default('mlp'),
    /** MLP: hidden width. Transformer: d_model. */
    model_size: z.number().int().positive().default(512),
    /** MLP: token embedding width per operand; 0 feeds the one-hot pair straight into the hidden layer (Gromov 2023). */
    embed_dim: z.number().int().nonnegative().default(128),
    /** MLP: number of hidden layers. Transformer: number of blocks (1 or 2). */
    depth: z.number().int().min(1).max(4).default(1),
    activation: z.enum(['relu', 'quadratic']).default('relu'),
    heads: z.number().int().positive().default(4),
    /** Cross-entropy on the logits, or squared error against one-hot targets (Gromov 2023). */
    loss: z.enum(['cross_entropy', 'mse']).default('cross_entropy'),
    lr: z.number().positive().default(1e-3),
    weight_decay: z.number().nonnegative().default(1),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.98),
    warmup_steps: z.number().int().nonnegative().default(10),
    /** null or 0: full batch. */
    batch_size: z.number().int().nonnegative().nullable().default(null),
    max_steps: z.number().int().positive().default(10_000),
    eval_every: z.number().int().positive().default(50),
    seed: z.number().int().nonnegative().default(0),
    /** Grokfast-EMA gradient filter (Lee et al. 2024): g + lambda * EMA_alpha(g). */
    grokfast: z
      .object({ alpha: z.number().min(0).lt(1).default(0.98), lambda: z.number().nonnegative().default(2) })
      .strict()
      .nullable()
      .default(null),
    /** Stop once train and val accuracy have stayed at or above the threshold this many steps; null never stops early. */
    early_stop_window: z.number().int().nonnegative().nullable().default(500),
    /** Save a checkpoint every this many steps; 0 never. */
    checkpoint_every: z.number().int().nonnegative().default(1000),
    backend: z.enum(backendChoices).default('auto'),
    /** Multiplies the standard deviation of every initial weight. */
    init_scale: z.number().positive().default(1),
    /** Rows per forward pass when evaluating (bounds memory, not results). */
    eval_chunk: z.number().int().positive().default(8192),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.model === 'transformer') {
      if (v.depth > 2)
        ctx.addIssue({ code: 'custom', path: ['depth'], message: 'transformer depth must be 1 or 2' });
      if (v.model_size % v.heads !== 0) {
        ctx.addIssue({ code: 'custom', path: ['heads'], message: 'heads must divide model_size (d_model)' });
      }
    }
  });

export type ModularArithmeticParams = z.output<typeof modularArithmeticParams>;
