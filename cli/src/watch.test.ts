import type { SweepProgress } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { watchBlock } from './watch.js';

const progress: SweepProgress = {
  sweepId: 's',
  name: 's',
  method: 'bayes',
  status: 'running',
  planned: 40,
  started: 10,
  finished: 6,
  byStatus: { completed: 6 },
  byPhase: { grokking: 4, memorization: 2 },
  failures: 0,
  runs: 1,
  running: [
    { trialId: 's.t000006', index: 6, step: 300 },
    { trialId: 's.t000009', index: 9 },
  ],
  historyLength: 120,
};

describe('sweep watch on a terminal', () => {
  it('shows what the next round of a model-based sweep waits for, below the progress bar', () => {
    const block = watchBlock(
      's',
      { ...progress, nextRound: { startsAt: 10, waitsFor: ['s.t000006'] } },
      'GRID',
    );
    expect(block.split('\n')).toEqual([
      'sweep s  running',
      '[#####-------------------------] 6/40 trials  running 2  | grokking 4, memorization 2',
      'next round: from trial 10, waits for s.t000006 to finish',
      '  s.t000006  step 300',
      '  s.t000009  step -',
      '',
      'GRID',
    ]);
  });

  it('leaves the line out where there is no next round (grid and random sweeps, or a sampler that is done)', () => {
    expect(watchBlock('s', progress, 'GRID')).not.toContain('next round');
  });
});
