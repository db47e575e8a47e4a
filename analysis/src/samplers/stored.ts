import { createHash } from 'node:crypto';
import type { SweepSpec } from '@grokmap/workflows';
import { observeTrials } from './observe.js';
import type { SamplerObservation, SamplerPoint, SamplerResult, SamplerState } from './types.js';

/**
 * A bayes or adaptive sweep's finished trials live in the results store, so
 * its sampler state need not carry them. After each proposal the trials
 * before the oldest unfinished one leave the state (`leaveInStore`), which
 * keeps only a count and a digest of them; the next proposal reads them back
 * (`restoreFromStore`) and checks the digest, so it sees exactly what the
 * sweep observed or fails saying why. The state a workflow carries is then a
 * window of the sweep (rounds.ts bounds it), not the whole sweep.
 */

/** A finished trial as the results store holds it: its observation's inputs. */
export interface StoredTrial extends SamplerResult {
  point: SamplerPoint;
}

/** A trial's sampler point from the parameters its trainer got (the spec's parameters, without `fixed`). */
export function pointFromParams(
  spec: Pick<SweepSpec, 'parameters'>,
  params: Record<string, unknown>,
): SamplerPoint {
  return Object.fromEntries(Object.keys(spec.parameters).map((name) => [name, params[name]])) as SamplerPoint;
}

/** The store's records do not give back the trials the sweep observed. */
export class StoredTrialsMismatch extends Error {
  override name = 'StoredTrialsMismatch';
}

/** Every trial below the oldest one still pending has been observed: that prefix can leave the state. */
function finishedPrefixEnd(state: Pick<SamplerState, 'nextIndex' | 'pending'>): number {
  return state.pending.reduce((low, p) => Math.min(low, p.index), state.nextIndex);
}

/** The state without the finished prefix of its trials, which the store holds; `state` must be whole. */
export function leaveInStore(state: SamplerState): SamplerState {
  const below = finishedPrefixEnd(state);
  if (state.stored) throw new Error('leaveInStore needs the whole state: restore it from the store first');
  const leaving = state.observations.filter((o) => o.index < below);
  if (leaving.length !== below) {
    throw new Error(
      `the state observed ${leaving.length} of the ${below} trials before its first pending one`,
    );
  }
  if (below === 0) return state;
  return {
    ...state,
    observations: state.observations.filter((o) => o.index >= below),
    stored: { below, digest: observationsDigest(leaving) },
  };
}

/**
 * The whole state again, its stored prefix rebuilt from the store's records
 * of the sweep's finished trials (others are ignored). Throws
 * StoredTrialsMismatch when a trial of the prefix is missing or the prefix
 * differs from what the sweep observed.
 */
export function restoreFromStore(state: SamplerState, trials: readonly StoredTrial[]): SamplerState {
  const { stored, ...rest } = state;
  if (!stored) return state;
  const prefix = trials.filter((t) => t.index < stored.below);
  const found = new Set(prefix.map((t) => t.index));
  const missing: number[] = [];
  for (let i = 0; i < stored.below && missing.length < 5; i++) if (!found.has(i)) missing.push(i);
  if (missing.length > 0) {
    throw new StoredTrialsMismatch(
      `the results store holds ${found.size} of the ${stored.below} finished trials this sweep's sampler left there; ${stored.below - found.size} are missing, the first at indices ${missing.join(', ')}`,
    );
  }
  // observeTrials keeps one observation per index, sorted.
  const restored = observeTrials(
    { ...rest, observations: [], pending: prefix.map(({ index, point }) => ({ index, point })) },
    prefix,
  ).observations;
  if (observationsDigest(restored) !== stored.digest) {
    throw new StoredTrialsMismatch(
      `the results store's records of trials 0–${stored.below - 1} differ from the results this sweep's sampler observed`,
    );
  }
  return { ...rest, observations: [...restored, ...state.observations] };
}

/** A digest of observations in index order, independent of the order of a point's keys. */
export function observationsDigest(observations: readonly SamplerObservation[]): string {
  const hash = createHash('sha256');
  for (const o of [...observations].sort((a, b) => a.index - b.index)) {
    const point = Object.keys(o.point)
      .sort()
      .map((k) => [k, o.point[k]]);
    hash.update(`${JSON.stringify([o.index, point, o.phase, o.metric, o.censored])}\n`);
  }
  return hash.digest('base64url');
}
