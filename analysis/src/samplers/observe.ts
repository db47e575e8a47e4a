import type { SweepSpec } from '@grokmap/workflows';
import type { Phase } from '../types.js';
import type { SamplerObservation, SamplerResult, SamplerState } from './types.js';

/**
 * The cheap half of the bayes/adaptive samplers: the initial state and
 * `observeTrials`, which only moves finished trials from `pending` to
 * `observations`. It imports no linear algebra, so a workflow can call it
 * directly; the model fits happen in `proposeTrials` (an activity).
 */

export function initialSamplerState(spec: Pick<SweepSpec, 'method' | 'metric'>): SamplerState {
  if (spec.method !== 'bayes' && spec.method !== 'adaptive') {
    throw new Error(`method ${spec.method} has no model-based sampler (bayes and adaptive do)`);
  }
  return {
    kind: spec.method,
    nextIndex: 0,
    observations: [],
    pending: [],
    round: 0,
    ...(spec.metric ? { metricName: spec.metric.name } : {}),
  };
}

/** Statuses whose metric and phase are not results: the trial never finished. */
const FAILED = new Set(['error', 'timed_out', 'cancelled']);

/**
 * For step metrics, the phases in which the timed event never happened within
 * max_steps, so the metric (max_steps, see workers' metricValue) is a bound.
 */
const CENSORING_PHASES: Record<string, readonly Phase[]> = {
  steps_to_generalize: ['memorization', 'confusion'],
  steps_to_fit: ['confusion'],
  grokking_delay: ['memorization', 'confusion'],
};

/**
 * Record finished trials. Pure and order-independent: results for trials that
 * are not pending (duplicates, replays) are ignored, and observations stay
 * sorted by index. Failed trials are kept with no phase and no metric, so
 * they are not proposed again and models skip them. `censored` is inferred
 * when a result does not say: a step metric of a run whose phase shows the
 * event never happened.
 */
export function observeTrials(state: SamplerState, results: readonly SamplerResult[]): SamplerState {
  const pending = new Map(state.pending.map((p) => [p.index, p]));
  const added: SamplerObservation[] = [];
  for (const r of results) {
    const trial = pending.get(r.index);
    if (!trial) continue;
    pending.delete(r.index);
    const failed = FAILED.has(r.status);
    const metric = failed || r.metric === null || !Number.isFinite(r.metric) ? null : r.metric;
    const phase = failed ? null : r.phase;
    const inferred =
      metric !== null &&
      phase !== null &&
      (CENSORING_PHASES[state.metricName ?? '']?.includes(phase) ?? false);
    added.push({
      index: r.index,
      point: trial.point,
      phase,
      metric,
      censored: metric !== null && (r.censored ?? inferred),
    });
  }
  if (added.length === 0) return state;
  return {
    ...state,
    observations: [...state.observations, ...added].sort((a, b) => a.index - b.index),
    pending: [...pending.values()],
  };
}

// What the workflow asks before each suggestion (rounds.ts); the proposal itself applies the rest.
export { proposalDue, roundBlockers } from './rounds.js';
