import type { z } from 'zod';
import { type ReportInput, type ReportTrial, reportInputSchema, reportTrialSchema } from './input.js';

/**
 * Make the best of a corrupt or partial input: the sweep and the rule fall
 * back to placeholders, a trial that does not parse is kept as an `invalid`
 * trial carrying the parse problem (so the report lists it as missing), and
 * curves that do not parse are dropped from an otherwise good trial. Each
 * repair adds a warning.
 */
export function sanitiseInput(raw: unknown, warnings: string[]): ReportInput {
  const whole = reportInputSchema.safeParse(raw);
  if (whole.success) return whole.data;

  const obj = isRecord(raw) ? raw : {};
  const sweepParsed = reportInputSchema.shape.sweep.safeParse(obj.sweep);
  const sweepRaw = isRecord(obj.sweep) ? obj.sweep : {};
  const sweep = sweepParsed.success
    ? sweepParsed.data
    : {
        id: typeof sweepRaw.id === 'string' ? sweepRaw.id : '(unknown sweep)',
        name: typeof sweepRaw.name === 'string' ? sweepRaw.name : '(unnamed sweep)',
        spec: sweepRaw.spec,
        status: typeof sweepRaw.status === 'string' ? sweepRaw.status : 'unknown',
      };
  if (!sweepParsed.success)
    warnings.push(`sweep record unreadable (${issues(sweepParsed.error)}); placeholders used`);

  const ruleParsed = reportInputSchema.shape.phaseRule.safeParse(obj.phaseRule);
  const phaseRule = ruleParsed.success ? ruleParsed.data : { threshold: 0.99, delaySteps: 1000 };
  if (!ruleParsed.success)
    warnings.push(`phase rule unreadable (${issues(ruleParsed.error)}); θ = 0.99, Δ = 1000 assumed`);

  const axesParsed = reportInputSchema.shape.axes.safeParse(obj.axes);
  if (!axesParsed.success)
    warnings.push(`axis hints unreadable (${issues(axesParsed.error)}); defaults used`);

  const rawTrials = Array.isArray(obj.trials) ? obj.trials : [];
  if (!Array.isArray(obj.trials)) warnings.push('no trial list in the input');
  const trials = rawTrials.map((t, i) => sanitiseTrial(t, i, warnings));
  return {
    sweep,
    trials,
    phaseRule,
    ...(axesParsed.success && axesParsed.data ? { axes: axesParsed.data } : {}),
  };
}

function sanitiseTrial(raw: unknown, index: number, warnings: string[]): ReportTrial {
  const parsed = reportTrialSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const obj = isRecord(raw) ? raw : {};
  const trialId = typeof obj.trialId === 'string' && obj.trialId ? obj.trialId : `(trial #${index + 1})`;
  // Curves alone broken: keep the trial, drop its curves.
  const { curves: _curves, ...withoutCurves } = obj;
  const retry = reportTrialSchema.safeParse(withoutCurves);
  if (retry.success) {
    warnings.push(`trial ${trialId}: curves unreadable, dropped`);
    return retry.data;
  }
  warnings.push(`trial ${trialId}: record unreadable (${issues(parsed.error)})`);
  return {
    trialId,
    params: isRecord(obj.params) ? obj.params : {},
    status: 'invalid',
    phase: null,
    tTrain: null,
    tVal: null,
    ratio: null,
    error: `unreadable record: ${issues(parsed.error)}`,
  };
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
