import { stringify } from 'csv-stringify/sync';
import type { ReportTrial } from './input.js';

/**
 * Every trial as a table: CSV (RFC 4180 quoting via csv-stringify, one column
 * per parameter) and JSON lines (one trial per line, curves included).
 */

/** Parameter names over all trials, in first-seen order. */
export function paramColumns(trials: readonly ReportTrial[]): string[] {
  const seen = new Set<string>();
  for (const t of trials) for (const k of Object.keys(t.params)) seen.add(k);
  return [...seen];
}

/** A cell value as text: numbers and strings as they are, anything else as JSON. */
export function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

export const FIXED_COLUMNS = [
  'trial_id',
  'status',
  'phase',
  't_train',
  't_val',
  'R',
  'semi_grokking',
  'curve_points',
  'error',
] as const;

export function trialsCsv(trials: readonly ReportTrial[]): string {
  const params = paramColumns(trials);
  const rows = trials.map((t) => [
    t.trialId,
    t.status,
    t.phase ?? '',
    cellText(t.tTrain),
    cellText(t.tVal),
    cellText(t.ratio),
    t.semiGrokking === undefined ? '' : String(t.semiGrokking),
    String(t.curves?.length ?? 0),
    t.error ?? '',
    ...params.map((p) => cellText(t.params[p])),
  ]);
  return stringify(rows, { header: true, columns: [...FIXED_COLUMNS, ...params] });
}

export function trialsJsonl(trials: readonly ReportTrial[]): string {
  return trials.map((t) => JSON.stringify(t)).join('\n') + (trials.length > 0 ? '\n' : '');
}
