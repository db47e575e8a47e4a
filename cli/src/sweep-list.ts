import { PHASES } from '@grokmap/analysis';
import {
  FINAL_TRIAL_STATUSES,
  SWEEP_STATUSES,
  type SweepScan,
  type SweepStatus,
  type TrialCount,
} from '@grokmap/workers';
import { CliError } from './context.js';
import { PHASE_LETTER } from './phase-grid.js';
import { table } from './text-table.js';

/** One line of `grokmap sweep list`: the stored record and what its trials came to. */
export interface SweepListing {
  sweepId: string;
  name: string;
  trainer: string;
  method: string;
  status: string;
  createdAt: string;
  finishedAt?: string;
  verdict?: string;
  report?: string;
  trials: {
    planned: number;
    /** Trials in a final state (completed, diverged, timed out, error, cancelled). */
    finished: number;
    running: number;
    /** Classified trials per phase. */
    byPhase: Record<string, number>;
  };
}

const FINAL = new Set<string>(FINAL_TRIAL_STATUSES);

/**
 * Stored sweeps, newest first (at most `limit`), each with its trial counts.
 * Counts come from one grouped query, so listing thousands of sweeps reads
 * no trial rows.
 */
export function sweepListing(
  scan: SweepScan,
  counts: readonly TrialCount[],
  options: { limit?: number; status?: SweepStatus } = {},
): SweepListing[] {
  const bySweep = new Map<string, TrialCount[]>();
  for (const c of counts) {
    const own = bySweep.get(c.sweepId);
    if (own) own.push(c);
    else bySweep.set(c.sweepId, [c]);
  }
  const newestFirst = scan.sweeps
    .filter((s) => !options.status || s.status === options.status)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.sweepId.localeCompare(b.sweepId));
  return newestFirst.slice(0, options.limit ?? newestFirst.length).map((s) => {
    const own = bySweep.get(s.sweepId) ?? [];
    const sum = (keep: (c: TrialCount) => boolean) => own.filter(keep).reduce((n, c) => n + c.count, 0);
    const byPhase = Object.fromEntries(
      PHASES.map((p) => [p, sum((c) => c.phase === p)] as const).filter(([, n]) => n > 0),
    );
    return {
      sweepId: s.sweepId,
      name: s.name,
      trainer: s.trainer,
      method: s.method,
      status: s.status,
      createdAt: s.createdAt,
      ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
      ...(s.verdict ? { verdict: s.verdict } : {}),
      ...(s.reportDir ? { report: `${s.reportDir}/report.html` } : {}),
      trials: {
        planned: s.plannedTrials,
        finished: sum((c) => FINAL.has(c.status)),
        running: sum((c) => c.status === 'running'),
        byPhase,
      },
    };
  });
}

/** The listing as aligned columns; phases as the grid's letters (C 3 G 5 …). */
export function formatSweepList(listing: readonly SweepListing[]): string {
  if (listing.length === 0) return 'no sweeps stored';
  const header = ['created', 'sweep', 'method', 'trainer', 'status', 'trials', 'phases'];
  const rows = listing.map((s) => [
    s.createdAt.slice(0, 16).replace('T', ' '),
    s.sweepId,
    s.method,
    s.trainer,
    s.verdict ? `${s.status} (${s.verdict})` : s.status,
    `${s.trials.finished}/${s.trials.planned}${s.trials.running > 0 ? ` +${s.trials.running} running` : ''}`,
    Object.entries(s.trials.byPhase)
      .map(([phase, n]) => `${PHASE_LETTER[phase as keyof typeof PHASE_LETTER]} ${n}`)
      .join('  ') || '-',
  ]);
  return table([header, ...rows]).join('\n');
}

/** `--status` of `sweep list`: one of the sweep statuses, or exit 2 naming them. */
export function parseSweepStatus(value: string): SweepStatus {
  const status = SWEEP_STATUSES.find((s) => s === value);
  if (!status)
    throw new CliError(`--status: expected one of ${SWEEP_STATUSES.join(', ')}, got '${value}'`, 2);
  return status;
}
