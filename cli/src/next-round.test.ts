import { describe, expect, it } from 'vitest';
import { describeNextRound } from './next-round.js';

describe('describeNextRound', () => {
  it('names the trials the next round waits for, the first three in full', () => {
    const waitsFor = ['s.t000003', 's.t000004', 's.t000007', 's.t000009', 's.t000011'];
    expect(describeNextRound({ nextRound: { startsAt: 16, waitsFor } })).toBe(
      'next round: from trial 16, waits for s.t000003, s.t000004, s.t000007 and 2 more to finish',
    );
    expect(describeNextRound({ nextRound: { startsAt: 16, waitsFor: waitsFor.slice(0, 1) } })).toBe(
      'next round: from trial 16, waits for s.t000003 to finish',
    );
  });

  it('says when nothing holds the round back, and says nothing for a sweep without rounds', () => {
    expect(describeNextRound({ nextRound: { startsAt: 8, waitsFor: [] } })).toBe(
      'next round: from trial 8, waits for no trial',
    );
    expect(describeNextRound({})).toBeUndefined();
  });
});
