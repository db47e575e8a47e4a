import { type ReportInput, writeReport } from '@grokmap/analysis';
import type { ResultsStore } from '@grokmap/workers';
import type { SweepSpec } from '@grokmap/workflows';
import type { Logger } from 'pino';

/** Curves are loaded for every trial up to this many; beyond it the report draws curves of none. */
const MAX_TRIALS_WITH_CURVES = 2_000;

/** Read a sweep from the store and write its report into `dir`. */
export async function writeSweepReport(
  store: ResultsStore,
  sweepId: string,
  dir: string,
  logger: Logger,
): Promise<{ files: string[]; warnings: string[] }> {
  const sweep = await store.getSweep(sweepId);
  if (!sweep) throw new Error(`no sweep ${sweepId} in the results store`);
  const spec = sweep.spec as SweepSpec;
  const records = await store.listTrials(sweepId);
  const withCurves = records.length <= MAX_TRIALS_WITH_CURVES;
  const trials: ReportInput['trials'] = [];
  for (const r of records) {
    const curves = withCurves ? await store.getCurves(r.trialId) : [];
    trials.push({
      trialId: r.trialId,
      params: r.params,
      status: r.status,
      phase: r.phase ?? null,
      tTrain: r.tTrain ?? null,
      tVal: r.tVal ?? null,
      ratio: r.ratio ?? null,
      semiGrokking: r.semiGrokking ?? false,
      ...(r.error ? { error: r.error } : {}),
      ...(curves.length > 0 ? { curves } : {}),
    });
  }
  const result = await writeReport(
    {
      sweep: {
        id: sweep.sweepId,
        name: sweep.name,
        spec: sweep.spec,
        status: sweep.status,
        ...(sweep.verdict ? { verdict: sweep.verdict } : {}),
      },
      trials,
      phaseRule: { threshold: spec.phase?.threshold ?? 0.99, delaySteps: spec.phase?.delay_steps ?? 1000 },
    },
    dir,
    { logger },
  );
  if (!withCurves) result.warnings.push(`curves not drawn: more than ${MAX_TRIALS_WITH_CURVES} trials`);
  return result;
}
