/**
 * How large a bayes or adaptive sweep may grow. Its sampler state (every
 * trial's point and result, analysis/src/samplers/types.ts) travels whole
 * as the input and result of each suggestion and at continue-as-new, and
 * Temporal refuses any payload over 2 MB: a worker fails the workflow task
 * instead, and the sweep stalls on its retries. So the spec is refused when
 * the state could outgrow what it may carry, with the room left for the
 * spec itself and the proposed trials in the same payload.
 */
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

/** The most trials a bayes or adaptive sweep with these parameters may plan. */
export function maxModelSweepTrials(spec: Pick<SweepSpec, 'parameters'>): number {
  // The index's digits depend on the answer; six covers any count this can give.
  const perTrial = observationBytesBound(spec.parameters, 999_999);
  return Math.floor((MAX_SAMPLER_STATE_BYTES - STATE_OVERHEAD_BYTES) / perTrial);
}
