import { type ReportTrial, writeReport } from '@grokmap/analysis';
import type { CurvePoint } from '@grokmap/plugin-sdk';
import { CorruptRowError, type ResultsStore, type TrialRecord, type UnreadableTrial } from '@grokmap/workers';
import type { SweepSpec } from '@grokmap/workflows';
import type { Logger } from 'pino';
import { unreadableTrialWarning } from './unreadable.js';

/** Curves are loaded for every trial up to this many; beyond it the report draws curves of none. */
const MAX_TRIALS_WITH_CURVES = 2_000;

/**
 * Read a sweep from the store and write its report into `dir`. A partial or
 * corrupt store still gives a report: trial rows that cannot be read are
 * listed as `invalid` trials saying what is wrong with them, and unreadable
 * curves are left out with a warning. The store is only read.
 */
export async function writeSweepReport(
  store: ResultsStore,
  sweepId: string,
  dir: string,
  logger: Logger,
): Promise<{ files: string[]; warnings: string[] }> {
  const sweep = await store.getSweep(sweepId);
  if (!sweep) throw new Error(`no sweep ${sweepId} in the results store`);
  const spec = sweep.spec as SweepSpec;
  const scan = await store.scanTrials(sweepId);
  const count = scan.trials.length + scan.unreadable.length;
  const withCurves = count <= MAX_TRIALS_WITH_CURVES;
  const warnings: string[] = [];
  const rows: { index: number; trial: ReportTrial }[] = [];
  for (const r of scan.trials) {
    const { curves, problem } = withCurves ? await readCurves(store, r.trialId) : { curves: [] };
    if (problem)
      warnings.push(`trial ${r.trialId}: curves unreadable in the results store, left out (${problem})`);
    rows.push({ index: r.index, trial: reportTrial(r, curves, problem) });
  }
  for (const u of scan.unreadable) {
    warnings.push(unreadableTrialWarning(u));
    rows.push({ index: u.index ?? Number.POSITIVE_INFINITY, trial: invalidTrial(u) });
  }
  logger.debug({ sweepId, trials: scan.trials.length, unreadable: scan.unreadable.length }, 'sweep read');
  const result = await writeReport(
    {
      sweep: {
        id: sweep.sweepId,
        name: sweep.name,
        spec: sweep.spec,
        status: sweep.status,
        ...(sweep.verdict ? { verdict: sweep.verdict } : {}),
      },
      // In the store's order (by index); rows whose index cannot be read come last.
      trials: rows.sort((a, b) => a.index - b.index).map((row) => row.trial),
      phaseRule: { threshold: spec.phase?.threshold ?? 0.99, delaySteps: spec.phase?.delay_steps ?? 1000 },
    },
    dir,
    { logger },
  );
  result.warnings.push(...warnings);
  if (!withCurves) result.warnings.push(`curves not drawn: more than ${MAX_TRIALS_WITH_CURVES} trials`);
  return result;
}

/** A readable trial; `curveProblem` (why its curves could not be read) joins its error, so the table shows it. */
function reportTrial(r: TrialRecord, curves: CurvePoint[], curveProblem?: string): ReportTrial {
  const error = [r.error, curveProblem && `curves unreadable: ${curveProblem}`].filter(Boolean).join('; ');
  return {
    trialId: r.trialId,
    params: r.params,
    status: r.status,
    phase: r.phase ?? null,
    tTrain: r.tTrain ?? null,
    tVal: r.tVal ?? null,
    ratio: r.ratio ?? null,
    semiGrokking: r.semiGrokking ?? false,
    ...(error ? { error } : {}),
    ...(curves.length > 0 ? { curves } : {}),
  };
}

/** A row the store could not read: kept in the report as an `invalid` trial carrying the problem. */
function invalidTrial(u: UnreadableTrial): ReportTrial {
  return {
    trialId: u.trialId,
    params: u.params ?? {},
    status: 'invalid',
    phase: null,
    tTrain: null,
    tVal: null,
    ratio: null,
    error: `unreadable record: ${u.problem}`,
  };
}

/** A trial's curves, or none and the problem when a curve row is corrupt. */
async function readCurves(
  store: ResultsStore,
  trialId: string,
): Promise<{ curves: CurvePoint[]; problem?: string }> {
  try {
    return { curves: await store.getCurves(trialId) };
  } catch (err) {
    if (!(err instanceof CorruptRowError)) throw err;
    return { curves: [], problem: err.message };
  }
}
