import type { ReportTrial } from './input.js';

/** What a report cannot show: trials with no result, and completed ones without curves. */
export interface MissingSummary {
  /** Diverged, timed out, errored, unreadable, or any other non-final-success status. */
  failed: ReportTrial[];
  cancelled: ReportTrial[];
  /** Still running (or pending). */
  running: ReportTrial[];
  /** Completed, but no curves were recorded. */
  withoutCurves: ReportTrial[];
}

export function summariseMissing(trials: readonly ReportTrial[]): MissingSummary {
  const out: MissingSummary = { failed: [], cancelled: [], running: [], withoutCurves: [] };
  for (const t of trials) {
    if (t.status === 'completed') {
      if (!t.curves || t.curves.length === 0) out.withoutCurves.push(t);
    } else if (t.status === 'cancelled') out.cancelled.push(t);
    else if (t.status === 'running' || t.status === 'pending') out.running.push(t);
    else out.failed.push(t);
  }
  return out;
}

/** One warning line per kind of gap, for the caller's log. */
export function missingWarnings(m: MissingSummary, total: number): string[] {
  const w: string[] = [];
  if (total === 0) w.push('the sweep has no trials: the report is empty');
  if (m.failed.length > 0) w.push(`${m.failed.length} of ${total} trials failed`);
  if (m.cancelled.length > 0) w.push(`${m.cancelled.length} of ${total} trials were cancelled`);
  if (m.running.length > 0) w.push(`${m.running.length} of ${total} trials are still running`);
  if (m.withoutCurves.length > 0) w.push(`${m.withoutCurves.length} completed trials have no curves`);
  return w;
}
