import { trialStepsFromHeartbeat } from '@grokmap/workers';
import type { SweepProgress } from '@grokmap/workflows';
import { defaultPayloadConverter } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { withHeartbeatSteps } from './sweep-client.js';

const progress = (running: SweepProgress['running']): SweepProgress => ({
  sweepId: 's',
  name: 's',
  method: 'grid',
  status: 'running',
  planned: 8,
  started: running.length,
  finished: 0,
  byStatus: {},
  byPhase: {},
  failures: 0,
  runs: 1,
  running,
  historyLength: 10,
});
const beat = (details: unknown, attempt = 1) => ({
  attempt,
  heartbeatDetails: { payloads: [defaultPayloadConverter.toPayload(details)] },
});

describe('running trials: their steps come from heartbeat details, not from history', () => {
  it('reads a single trial and every trial of a pack', () => {
    expect(trialStepsFromHeartbeat({ step: 300, checkpointUri: 'file:///c', trialId: 's.t0001' })).toEqual([
      { trialId: 's.t0001', step: 300 },
    ]);
    expect(trialStepsFromHeartbeat({ trials: { 's.t0002': { step: 5 }, 's.t0003': { step: 0 } } })).toEqual([
      { trialId: 's.t0002', step: 5 },
      { trialId: 's.t0003', step: 0 },
    ]);
  });

  it('reads nothing from details of another shape (an older worker, another activity)', () => {
    for (const details of [
      undefined,
      null,
      7,
      'x',
      { step: 4 },
      { trialId: 'a' },
      { trials: 3 },
      { trials: { a: { step: '1' } } },
    ])
      expect(trialStepsFromHeartbeat(details)).toEqual([]);
  });

  it('puts each running trial’s step and attempt into the progress, leaving the rest as they are', () => {
    const p = progress([
      { trialId: 's.t0001', index: 1 },
      { trialId: 's.t0002', index: 2 },
      { trialId: 's.t0003', index: 3, step: 40 },
    ]);
    const merged = withHeartbeatSteps(p, [
      beat({ step: 300, trialId: 's.t0001' }, 2),
      beat({ trials: { 's.t0002': { step: 80 } } }),
      { attempt: 1, heartbeatDetails: null },
      {
        attempt: 1,
        heartbeatDetails: {
          payloads: [
            { metadata: { encoding: new TextEncoder().encode('binary/x') }, data: new Uint8Array([1]) },
          ],
        },
      },
    ]);
    expect(merged.running).toEqual([
      { trialId: 's.t0001', index: 1, step: 300, attempt: 2 },
      { trialId: 's.t0002', index: 2, step: 80, attempt: 1 },
      { trialId: 's.t0003', index: 3, step: 40 },
    ]);
  });
});
