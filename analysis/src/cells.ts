import { canonicalJson } from '@grokmap/workflows';
import { countPhases } from './reference.js';
import { type AnalysedTrial, type CellPhase, PHASES, type Phase } from './types.js';

/**
 * Cells of a phase diagram: the trials that share every parameter except the
 * seed (the `cellKeys`), summarised as one phase.
 *
 * The cell's phase is the **strict majority** of its classified seeds: a
 * phase held by more than half of them. Without one (a tie such as 1–1, or
 * 2–2, or a spread such as 2–1–1 out of four) the cell is `mixed` — the seeds
 * disagree, which is where a boundary runs. A cell none of whose trials was
 * classified (all failed or still running) has phase `null`.
 */
export interface Cell {
  /** Canonical JSON of `params`: a stable id for the cell. */
  key: string;
  /** The values of the cell keys (a key missing from the trials is `undefined`). */
  params: Record<string, unknown>;
  phase: CellPhase | null;
  /** Classified trials per phase (every phase present, zeros included). */
  counts: Record<Phase, number>;
  /** Trials in the cell, whatever their state. */
  trials: number;
  /** Trials with a classification (the seeds the phase is voted from). */
  classified: number;
  /** Trials that ended without a classification: diverged, timed out, error, cancelled. */
  failed: number;
  /** Trials still running. */
  incomplete: number;
  /** Share of classified seeds that hold the winning phase (or the largest one when mixed); null when none. */
  agreement: number | null;
  /** Median of R = t_val / t_train over the seeds that reached both thresholds. */
  medianRatio: number | null;
  /** Whether any seed semi-grokked. */
  semiGrokking: boolean;
  trialIds: string[];
}

/** Group trials into cells by `cellKeys` (e.g. weight_decay, data_fraction, model_size). */
export function aggregateCells(trials: readonly AnalysedTrial[], cellKeys: readonly string[]): Cell[] {
  const groups = new Map<string, { params: Record<string, unknown>; members: AnalysedTrial[] }>();
  for (const t of trials) {
    const params: Record<string, unknown> = {};
    for (const k of cellKeys) params[k] = t.params[k];
    const key = canonicalJson(params);
    let group = groups.get(key);
    if (!group) {
      group = { params, members: [] };
      groups.set(key, group);
    }
    group.members.push(t);
  }
  return [...groups.entries()]
    .map(([key, g]) => summarise(key, g.params, g.members))
    .sort((a, b) => compareParams(a.params, b.params, cellKeys));
}

/** The strict-majority phase of a set of votes, `mixed` without one, null without votes. */
export function majorityPhase(counts: Record<Phase, number>): CellPhase | null {
  const total = PHASES.reduce((s, p) => s + counts[p], 0);
  if (total === 0) return null;
  return PHASES.find((p) => counts[p] * 2 > total) ?? 'mixed';
}

/** Median of a list of numbers; null when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summarise(key: string, params: Record<string, unknown>, members: AnalysedTrial[]): Cell {
  const classified = members.flatMap((t) => (t.classification ? [t.classification] : []));
  const counts = countPhases(classified);
  const largest = Math.max(...PHASES.map((p) => counts[p]));
  return {
    key,
    params,
    phase: majorityPhase(counts),
    counts,
    trials: members.length,
    classified: classified.length,
    failed: members.filter((t) => !t.classification && t.status !== 'running').length,
    incomplete: members.filter((t) => !t.classification && t.status === 'running').length,
    agreement: classified.length === 0 ? null : largest / classified.length,
    medianRatio: median(classified.flatMap((c) => (c.ratio === null ? [] : [c.ratio]))),
    semiGrokking: classified.some((c) => c.semiGrokking),
    trialIds: members.map((t) => t.trialId),
  };
}

/** Order parameter records by the values of `keys` in turn, numbers numerically. */
export function compareParams(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  keys: readonly string[],
): number {
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return x - y;
      continue;
    }
    const sx = canonicalJson(x);
    const sy = canonicalJson(y);
    if (sx !== sy) return sx < sy ? -1 : 1;
  }
  return 0;
}
