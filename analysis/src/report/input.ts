import { curvePointSchema } from '@grokmap/plugin-sdk';
import { type ParameterSpec, parameterSchema } from '@grokmap/workflows';
import { z } from 'zod';
import { axisFor } from '../axes.js';
import { type Axis, PHASES } from '../types.js';

/**
 * What the report writer needs: the sweep, every trial it knows of (finished,
 * failed, cancelled or still running) and the phase rule. It is deliberately
 * its own type, not the store's records, so analysis never depends on workers;
 * the control worker and the CLI map their records onto it.
 */

const phaseSchema = z.enum(PHASES);

export const reportTrialSchema = z.object({
  trialId: z.string().min(1),
  params: z.record(z.string(), z.unknown()),
  /** completed, diverged, timed_out, error, cancelled, running (or any other word a store uses). */
  status: z.string().min(1),
  phase: phaseSchema.nullable(),
  tTrain: z.number().nullable(),
  tVal: z.number().nullable(),
  /** R = t_val / t_train. */
  ratio: z.number().nullable(),
  semiGrokking: z.boolean().optional(),
  error: z.string().optional(),
  curves: z.array(curvePointSchema).optional(),
});
export type ReportTrial = z.infer<typeof reportTrialSchema>;

/** Which parameters the figures use; each defaults as documented on {@link resolveAxes}. */
export const axisHintsSchema = z.object({
  x: z.string().optional(),
  y: z.string().optional(),
  /** One panel per value of this parameter; null for a single panel. */
  facet: z.string().nullable().optional(),
  /** Repeats of one cell; null when the sweep has no seed parameter. */
  seed: z.string().nullable().optional(),
  xLog: z.boolean().optional(),
  yLog: z.boolean().optional(),
});
export type AxisHints = z.infer<typeof axisHintsSchema>;

export const reportInputSchema = z.object({
  sweep: z.object({
    id: z.string(),
    name: z.string(),
    spec: z.unknown(),
    status: z.string(),
    verdict: z.string().optional(),
  }),
  trials: z.array(reportTrialSchema),
  phaseRule: z.object({ threshold: z.number().gt(0).max(1), delaySteps: z.number().nonnegative() }),
  axes: axisHintsSchema.optional(),
});
export type ReportInput = z.infer<typeof reportInputSchema>;

/** The axes the figures are drawn over, after defaults and checks against the data. */
export interface ResolvedAxes {
  x: Axis | null;
  y: Axis | null;
  facet: string | null;
  seed: string | null;
}

const DEFAULTS = { x: 'weight_decay', y: 'data_fraction', facet: 'model_size', seed: 'seed' } as const;

/**
 * Default axes: x = weight_decay, y = data_fraction, facet = model_size,
 * seed = seed. A named parameter that no trial carries as a number is replaced
 * by the first other numeric parameter that varies (warning added). An axis
 * is log-scaled as the hint says, else as `axisFor` decides from the sweep
 * spec's search space and the values seen; never when a value is ≤ 0.
 */
export function resolveAxes(input: ReportInput, warnings: string[]): ResolvedAxes {
  const hints = input.axes ?? {};
  const numeric = numericParams(input.trials);
  const facet = pickOptional(hints.facet, DEFAULTS.facet, input.trials);
  const seed = pickOptional(hints.seed, DEFAULTS.seed, input.trials);
  const taken = new Set([facet, seed].filter((s): s is string => s !== null));
  const candidates = [...numeric.keys()].filter((k) => !taken.has(k) && (numeric.get(k)?.size ?? 0) > 1);

  const pick = (wanted: string, explicit: boolean, other: string | null): string | null => {
    if (numeric.has(wanted)) return wanted;
    const alt = candidates.find((c) => c !== other) ?? null;
    if (input.trials.length > 0 && (explicit || alt !== null)) {
      warnings.push(
        alt === null
          ? `axis parameter '${wanted}' is not a numeric parameter of any trial; no axis drawn for it`
          : `axis parameter '${wanted}' is not a numeric parameter of any trial; using '${alt}' instead`,
      );
    }
    return alt;
  };
  const xName = pick(hints.x ?? DEFAULTS.x, hints.x !== undefined, null);
  const yName = pick(hints.y ?? DEFAULTS.y, hints.y !== undefined, xName);
  const axis = (name: string | null, hint: boolean | undefined): Axis | null => {
    if (name === null) return null;
    const seen = [...(numeric.get(name) ?? [])];
    const parsed = parameterSchema.safeParse(paramSpec(input.sweep.spec, name));
    // A distribution in the spec decides the scale; a list of values (or no spec) is judged with the values seen.
    const base =
      parsed.success && parsed.data.distribution !== 'categorical'
        ? axisFor(name, seen, parsed.data)
        : axisFor(name, [...seen, ...(parsed.success ? numbersIn(parsed.data) : [])]);
    if (hint === undefined || hint === base.log) return base;
    if (hint && seen.some((v) => v <= 0)) {
      warnings.push(`axis '${name}' has values ≤ 0, so it is drawn on a linear scale, not a log scale`);
      return { ...base, log: false };
    }
    return { ...base, log: hint };
  };
  return {
    x: axis(xName, hints.xLog),
    y: yName === xName ? null : axis(yName, hints.yLog),
    facet: facet === xName || facet === yName ? null : facet,
    seed,
  };
}

function pickOptional(
  hint: string | null | undefined,
  fallback: string,
  trials: readonly ReportTrial[],
): string | null {
  if (hint === null) return null;
  const name = hint ?? fallback;
  return trials.some((t) => name in t.params) ? name : null;
}

/** Distinct numeric values of each parameter over all trials. */
export function numericParams(trials: readonly ReportTrial[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const t of trials) {
    for (const [k, v] of Object.entries(t.params)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      let set = out.get(k);
      if (!set) {
        set = new Set();
        out.set(k, set);
      }
      set.add(v);
    }
  }
  return out;
}

function numbersIn(p: ParameterSpec): number[] {
  return p.distribution === 'categorical' ? p.values.filter((v): v is number => typeof v === 'number') : [];
}

function paramSpec(spec: unknown, name: string): unknown {
  if (!isRecord(spec) || !isRecord(spec.parameters)) return undefined;
  return spec.parameters[name];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
