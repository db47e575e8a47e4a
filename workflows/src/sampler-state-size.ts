/**
 * How much a bayes or adaptive sweep's sampler state may carry. The state
 * travels as the input and result of each suggestion and at continue-as-new,
 * and Temporal refuses any payload over 2 MB: a worker fails the workflow
 * task instead, and the sweep stalls on its retries. The state holds one
 * record per trial (point and result, analysis/src/samplers/types.ts) only
 * for the trials from the oldest unfinished one on: each suggestion leaves
 * the finished trials before it in the results store and reads them back
 * from there (analysis/src/samplers/stored.ts). A round is proposed only
 * once every trial more than `lag` behind it has finished, so at most
 * lag + size trials are ever carried, whatever the sweep's length. The spec
 * is refused when that window could outgrow the payload, with room left for
 * the spec itself and the proposed trials.
 */
import { proposalRounds } from './proposal-rounds.js';
import type { SweepSpec } from './spec.js';

export const MAX_SAMPLER_STATE_BYTES = 1_500_000;

/** The longest number JSON.stringify writes, e.g. -1.2345678901234567e-123. */
const NUMBER_BYTES = 24;
/** The state's own fields, and an adaptive sweep's last map (one character per cell of its 1,024-cell grid). */
const STATE_OVERHEAD_BYTES = 2_048;

/**
 * An upper bound on one trial's bytes in the state of a sweep of `trials`:
 * {"index":…,"point":{…},"phase":…,"metric":…,"censored":false}, and a comma.
 */
export function observationBytesBound(parameters: SweepSpec['parameters'], trials: number): number {
  const entries = Object.entries(parameters);
  // {"name":value,…}: each entry and its comma or brace, and the opening brace.
  const point =
    entries.length === 0
      ? 2
      : entries.reduce((sum, [name, p]) => sum + JSON.stringify(name).length + 2 + valueBytes(p), 1);
  const index = String(trials).length;
  return (
    '{"index":,"point":,"phase":"memorization","metric":,"censored":false},'.length +
    index +
    point +
    NUMBER_BYTES
  );
}

function valueBytes(p: SweepSpec['parameters'][string]): number {
  if (p.distribution === 'constant') return JSON.stringify(p.value ?? null).length;
  if (p.distribution === 'categorical')
    return Math.max(...p.values.map((v) => JSON.stringify(v ?? null).length));
  return NUMBER_BYTES;
}

/** The most trial records a bayes or adaptive sweep with these parameters may carry at once. */
export function maxCarriedTrials(spec: Pick<SweepSpec, 'parameters'>): number {
  // The index's digits depend on the sweep's length; seven covers the hard cap on trials.
  const perTrial = observationBytesBound(spec.parameters, 1_000_000);
  return Math.floor((MAX_SAMPLER_STATE_BYTES - STATE_OVERHEAD_BYTES) / perTrial);
}

/** The most trial records this sweep's state carries: a round and the trials behind it that it may not see. */
export function carriedTrials(spec: Pick<SweepSpec, 'method' | 'budget' | 'adaptive' | 'bayes'>): number {
  const rounds = proposalRounds(spec);
  return Math.min(spec.budget.trials, rounds.lag + rounds.size);
}
