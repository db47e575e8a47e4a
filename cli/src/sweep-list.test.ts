import type { SweepRecord, TrialCount } from '@grokmap/workers';
import { describe, expect, it } from 'vitest';
import { formatSweepList, parseSweepStatus, sweepListing } from './sweep-list.js';
import { unreadableSweepWarning } from './unreadable.js';

function sweep(sweepId: string, createdAt: string, overrides: Partial<SweepRecord> = {}): SweepRecord {
  return {
    sweepId,
    name: sweepId,
    trainer: 'synthetic',
    method: 'grid',
    spec: {},
    status: 'completed',
    plannedTrials: 6,
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

const counts: TrialCount[] = [
  { sweepId: 'a', status: 'completed', phase: 'grokking', count: 3 },
  { sweepId: 'a', status: 'completed', phase: 'memorization', count: 1 },
  { sweepId: 'a', status: 'error', phase: null, count: 1 },
  { sweepId: 'a', status: 'running', phase: null, count: 1 },
  { sweepId: 'b', status: 'cancelled', phase: null, count: 2 },
];

describe('sweep list', () => {
  const scan = {
    sweeps: [
      sweep('a', '2026-11-28T08:00:00.000Z', { status: 'running' }),
      sweep('b', '2026-11-28T09:30:00.000Z', {
        status: 'cancelled',
        verdict: 'cancelled by user',
        reportDir: '/r/b',
      }),
      sweep('c', '2026-11-28T07:00:00.000Z', { method: 'adaptive' }),
    ],
    unreadable: [],
  };

  it('lists newest first with finished, running and per-phase counts', () => {
    const listing = sweepListing(scan, counts);
    expect(listing.map((l) => l.sweepId)).toEqual(['b', 'a', 'c']);
    expect(listing[1]!.trials).toEqual({
      planned: 6,
      finished: 5,
      running: 1,
      byPhase: { grokking: 3, memorization: 1 },
    });
    expect(listing[0]).toMatchObject({ verdict: 'cancelled by user', report: '/r/b/report.html' });
    expect(listing[0]!.trials).toEqual({ planned: 6, finished: 2, running: 0, byPhase: {} });
    // A sweep with no trial rows yet.
    expect(listing[2]!.trials).toEqual({ planned: 6, finished: 0, running: 0, byPhase: {} });
  });

  it('keeps only the newest `limit`', () => {
    expect(sweepListing(scan, counts, { limit: 2 }).map((l) => l.sweepId)).toEqual(['b', 'a']);
  });

  it('keeps only sweeps in the asked state, and refuses a state that does not exist', () => {
    expect(sweepListing(scan, counts, { status: 'completed' }).map((l) => l.sweepId)).toEqual(['c']);
    expect(sweepListing(scan, counts, { status: 'failed' })).toEqual([]);
    expect(parseSweepStatus('running')).toBe('running');
    expect(() => parseSweepStatus('done')).toThrow(
      "--status: expected one of running, completed, failed, cancelled, got 'done'",
    );
  });

  it('prints aligned columns with the grid letters for phases', () => {
    const lines = formatSweepList(sweepListing(scan, counts)).split('\n');
    expect(lines[0]).toMatch(/^created\s+sweep\s+method\s+trainer\s+status\s+trials\s+phases$/);
    expect(lines[1]).toMatch(
      /^2026-11-28 09:30\s+b\s+grid\s+synthetic\s+cancelled \(cancelled by user\)\s+2\/6\s+-$/,
    );
    expect(lines[2]).toMatch(/\s+a\s+grid\s+synthetic\s+running\s+5\/6 \+1 running\s+G 3 {2}M 1$/);
    expect(lines[3]).toMatch(/\s+c\s+adaptive\s+/);
    expect(formatSweepList([])).toBe('no sweeps stored');
  });

  it('names an unreadable row and what is wrong with it', () => {
    expect(
      unreadableSweepWarning({ sweepId: 'z', problem: 'table sweeps (sweep_id=z): column status: bad' }),
    ).toBe('sweep z: record unreadable in the results store (table sweeps (sweep_id=z): column status: bad)');
  });
});
