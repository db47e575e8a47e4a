import { describe, expect, it } from 'vitest';
import { SHARD_PARALLEL, shardCount, shardRangeSize, slotParallel } from './shards.js';
import { type SweepSpec, sweepSpecSchema } from './spec.js';

/** A random sweep of `trials` trials with `parallel` in flight. */
function spec(trials: number, parallel: number, extra: Record<string, unknown> = {}): SweepSpec {
  return sweepSpecSchema.parse({
    name: 's',
    trainer: 'synthetic',
    method: 'random',
    budget: { trials, parallel },
    parameters: { weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 } },
    ...extra,
  });
}

describe('shards', () => {
  it('shards only grid and random sweeps wider than one shard, never splitting a pack', () => {
    expect(shardCount(spec(10_000, SHARD_PARALLEL))).toBe(1);
    expect(shardCount(spec(10_000, SHARD_PARALLEL + 1))).toBe(2);
    expect(shardCount(spec(10_000, 1024))).toBe(16);
    expect(shardCount(spec(10_000, 1024), 256)).toBe(4);
    // Packs of 512: two shards at most, each holding one whole pack.
    expect(shardCount(spec(10_000, 1024, { resources: { pack: 512 } }))).toBe(2);
    const bayes = spec(100, 1024, {
      method: 'bayes',
      metric: { name: 'val_accuracy', goal: 'maximize' },
      budget: { trials: 100, parallel: 1024, lag: 1024 },
    });
    expect(shardCount(bayes)).toBe(1);
  });

  it('gives the slots shares that add up to budget.parallel, differing by one at most', () => {
    for (const [parallel, shards] of [
      [1024, 16],
      [1000, 16],
      [65, 2],
      [7, 3],
    ] as const) {
      const shares = Array.from({ length: shards }, (_, slot) => slotParallel(parallel, shards, slot));
      expect(shares.reduce((a, b) => a + b, 0)).toBe(parallel);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
    }
  });

  it('cuts a sweep into about four ranges per shard, each at least eight windows, a range for every shard, at most the partition size', () => {
    // 100,000 trials over 16 shards of 64: 1,563 trials a range (64 ranges).
    expect(shardRangeSize(spec(100_000, 1024), 16, 20_000)).toBe(1563);
    // 20,000 trials: eight windows of 64 (512) beat a quarter of a shard's part (313).
    expect(shardRangeSize(spec(20_000, 1024), 16, 20_000)).toBe(512);
    // 5,000 trials: eight windows would leave 6 of 16 shards without a range; 313 gives each one.
    expect(shardRangeSize(spec(5_000, 1024), 16, 20_000)).toBe(313);
    expect(shardRangeSize(spec(1_000_000, 1024), 16, 20_000)).toBe(15_625);
    expect(shardRangeSize(spec(5_000, 1024), 16, 100)).toBe(100);
  });
});
