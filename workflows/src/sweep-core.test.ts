import { describe, expect, it } from 'vitest';
import { canonicalJson } from './prng.js';
import { initialStaticState, staticSampler } from './samplers/static-sampler.js';
import { gridShape, randomPoint } from './search-space.js';
import { type SweepSpec, sweepSpecSchema } from './spec.js';
import {
  activitiesInFlight,
  applyTrialSummary,
  failedActivityOutcomes,
  failureBudgetReason,
  failureBudgetSpent,
  initialSweepState,
  packsOf,
  shouldDrainForContinueAsNew,
} from './sweep-state.js';
import { sweepIdFor, trialIdFor } from './trials.js';

function spec(overrides: Record<string, unknown> = {}): SweepSpec {
  return sweepSpecSchema.parse({
    name: 's',
    trainer: 'synthetic',
    method: 'grid',
    budget: { trials: 100, parallel: 3 },
    parameters: {
      weight_decay: { values: [0.1, 1, 10] },
      data_fraction: { distribution: 'q_uniform', min: 0.2, max: 0.6, q: 0.2 },
      seed: { distribution: 'int_uniform', min: 0, max: 1 },
    },
    fixed: { max_steps: 10 },
    ...overrides,
  });
}

describe('grid expansion', () => {
  it('enumerates every combination exactly once, with fixed values merged', () => {
    const s = spec();
    const g = gridShape(s);
    expect(g.ok && g.shape.size).toBe(18);
    const sampler = staticSampler(s, 'sw');
    const { trials, exhausted } = sampler.propose(initialStaticState(s), 1000);
    expect(exhausted).toBe(true);
    expect(trials).toHaveLength(18);
    const keys = new Set(trials.map((t) => canonicalJson(t.params)));
    expect(keys.size).toBe(18);
    expect(trials.every((t) => t.params.max_steps === 10)).toBe(true);
    expect(new Set(trials.map((t) => t.params.data_fraction))).toEqual(new Set([0.2, 0.4, 0.6]));
  });

  it('proposes in windows without repeating or skipping', () => {
    const s = spec();
    const sampler = staticSampler(s, 'sw');
    let state = initialStaticState(s);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const p = sampler.propose(state, 4);
      state = p.state;
      ids.push(...p.trials.map((t) => t.trialId));
    }
    expect(ids).toEqual(Array.from({ length: 18 }, (_, i) => trialIdFor('sw', i)));
  });
});

describe('random expansion', () => {
  it('is deterministic per seed and index, and stays within bounds', () => {
    const s = spec({
      method: 'random',
      parameters: {
        weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
        k: { distribution: 'int_uniform', min: 1, max: 3 },
      },
    });
    const a = Array.from({ length: 200 }, (_, i) => randomPoint(s, i));
    const b = Array.from({ length: 200 }, (_, i) => randomPoint(s, i));
    expect(a).toEqual(b);
    expect(a.every((p) => (p.weight_decay as number) >= 0.01 && (p.weight_decay as number) <= 10)).toBe(true);
    expect(new Set(a.map((p) => p.k))).toEqual(new Set([1, 2, 3]));
    // Log-uniform: about half the draws below the geometric mean (~0.316).
    const below = a.filter((p) => (p.weight_decay as number) < Math.sqrt(0.1)).length;
    expect(below).toBeGreaterThan(70);
    expect(below).toBeLessThan(130);
    expect(randomPoint({ ...s, seed: 1 }, 0)).not.toEqual(a[0]);
  });
});

describe('sweep ids', () => {
  it('depend on the spec content', () => {
    expect(sweepIdFor(spec())).toBe(sweepIdFor(spec()));
    expect(sweepIdFor(spec())).not.toBe(sweepIdFor(spec({ fixed: { max_steps: 11 } })));
    expect(sweepIdFor(spec())).toMatch(/^s-[0-9a-f]{8}$/);
  });
});

describe('sweep state', () => {
  it('counts statuses, phases and failures', () => {
    let st = initialSweepState(3, initialStaticState(spec()));
    st = applyTrialSummary(st, { status: 'completed', phase: 'grokking' });
    st = applyTrialSummary(st, { status: 'error', phase: null });
    st = applyTrialSummary(st, { status: 'timed_out', phase: null });
    expect(st.finished).toBe(3);
    expect(st.byStatus).toEqual({ completed: 1, error: 1, timed_out: 1 });
    expect(st.byPhase).toEqual({ grokking: 1 });
    expect(st.failures).toBe(2);
    expect(failureBudgetSpent(st, spec({ budget: { trials: 10, max_failures: 1 } }))).toBe(true);
    expect(failureBudgetSpent(st, spec({ budget: { trials: 10, max_failures: 2 } }))).toBe(false);
    expect(failureBudgetSpent(st, spec())).toBe(false);
    // A partition counts the failures of the partitions before it.
    expect(failureBudgetSpent(st, spec({ budget: { trials: 10, max_failures: 2 } }), 1)).toBe(true);
    expect(failureBudgetReason(3, spec({ budget: { trials: 10, max_failures: 2 } }))).toBe(
      'failure budget spent: 3 failed trials, budget.max_failures is 2',
    );
  });

  it('drains before the history limit, leaving room for in-flight trials', () => {
    expect(shouldDrainForContinueAsNew(100, false, 4, { maxHistoryEvents: 1000 })).toBe(false);
    expect(shouldDrainForContinueAsNew(990, false, 4, { maxHistoryEvents: 1000 })).toBe(true);
    expect(shouldDrainForContinueAsNew(10, true, 0, { maxHistoryEvents: 1000 })).toBe(true);
  });

  it('reserves history for each activity in flight: a pack of 16 trials is one', () => {
    const packs = [0, 0, 0, 1, 1, 2].map((activity) => ({ activity }));
    expect(activitiesInFlight(packs)).toBe(3);
    expect(activitiesInFlight([])).toBe(0);
    // 1,024 trials in packs of 16 reserve 64 × 6 events, not 1,024 × 6 (past any run's budget).
    const fleet = Array.from({ length: 1024 }, (_, i) => ({ activity: Math.floor(i / 16) }));
    expect(
      shouldDrainForContinueAsNew(100, false, activitiesInFlight(fleet), { maxHistoryEvents: 6000 }),
    ).toBe(false);
    expect(shouldDrainForContinueAsNew(100, false, fleet.length, { maxHistoryEvents: 6000 })).toBe(true);
  });
});

describe('partitions', () => {
  it('cover the plan in contiguous ranges and merge counts', async () => {
    const { mergePartitionCounts, nextPartition } = await import('./sweep-state.js');
    const ranges = [];
    for (let r = nextPartition(0, 12, 5); r; r = nextPartition(r.end, 12, 5)) ranges.push(r);
    expect(ranges).toEqual([
      { start: 0, end: 5 },
      { start: 5, end: 10 },
      { start: 10, end: 12 },
    ]);
    const parent = initialSweepState(12, initialStaticState(spec()));
    const merged = mergePartitionCounts(
      mergePartitionCounts(parent, {
        started: 5,
        finished: 5,
        byStatus: { completed: 5 },
        byPhase: { grokking: 5 },
        failures: 0,
      }),
      {
        started: 5,
        finished: 4,
        byStatus: { completed: 3, error: 1 },
        byPhase: { grokking: 1 },
        failures: 1,
      },
    );
    expect(merged).toMatchObject({
      started: 10,
      finished: 9,
      failures: 1,
      byStatus: { completed: 8, error: 1 },
      byPhase: { grokking: 6 },
    });
  });
});

describe('packsOf', () => {
  it('cuts proposals into packs of the given size, in order, the last one short', () => {
    expect(packsOf([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
  it('gives one trial per pack at size 1, and nothing for no trials', () => {
    expect(packsOf(['a', 'b'], 1)).toEqual([['a'], ['b']]);
    expect(packsOf([], 4)).toEqual([]);
  });
});

describe('failedActivityOutcomes', () => {
  it('counts trials the store already finished as they ended, the rest with the failure', () => {
    const trials = [
      { trialId: 'a', index: 0 },
      { trialId: 'b', index: 1 },
      { trialId: 'c', index: 2 },
    ];
    const records = [
      { recorded: false, stored: { status: 'completed' as const, phase: 'grokking' as const, metric: 120 } },
      { recorded: true },
      { recorded: false },
    ];
    expect(failedActivityOutcomes(trials, records, 'timed_out')).toEqual([
      { trialId: 'a', index: 0, status: 'completed', phase: 'grokking', metric: 120 },
      { trialId: 'b', index: 1, status: 'timed_out', phase: null, metric: null },
      { trialId: 'c', index: 2, status: 'timed_out', phase: null, metric: null },
    ]);
  });
});
