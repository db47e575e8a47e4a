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

  it('cuts a sweep into the same number of ranges for every shard: up to four, each at least eight windows, at most the partition size', () => {
    const ranges = (trials: number, parallel: number, shards: number, maxSize: number) => {
      const size = shardRangeSize(spec(trials, parallel), shards, maxSize);
      return { size, ranges: Math.ceil(trials / size) };
    };
    // 100,000 trials over 16 shards of 64: four ranges each.
    expect(ranges(100_000, 1024, 16, 20_000)).toEqual({ size: 1563, ranges: 64 });
    // 20,000 trials: four ranges each would hold fewer than eight windows of 64; two do.
    expect(ranges(20_000, 1024, 16, 20_000)).toEqual({ size: 625, ranges: 32 });
    // 5,000 trials: one range each, never fewer ranges than shards.
    expect(ranges(5_000, 1024, 16, 20_000)).toEqual({ size: 313, ranges: 16 });
    // 640 trials on 4 shards of 16: one range each (five would leave one running alone at the end).
    expect(ranges(640, 64, 4, 20_000)).toEqual({ size: 160, ranges: 4 });
    // The partition size bounds a range: more ranges, still a multiple of the shards.
    expect(ranges(1_000_000, 1024, 16, 20_000)).toEqual({ size: 15_625, ranges: 64 });
    expect(ranges(5_000, 1024, 16, 100)).toEqual({ size: 79, ranges: 64 });
  });
});
