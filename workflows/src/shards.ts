import { initialStaticState } from './samplers/static-sampler.js';
import type { SweepSpec } from './spec.js';

/**
 * Shards: a grid or random sweep with many trials in flight runs as
 * concurrent child sweeps, each with a share of `budget.parallel`.
 *
 * A sweep's trials are activities of its current workflow run, so a run
 * drains its window before it continues as new, and the fleet waits for the
 * run's longest trial. The more trials in flight, the more often that
 * happens and the more of the fleet it idles: in `pnpm bench drains`' model
 * a window of 64 is busy 92% of the time, one of 1,024 54%. A shard drains
 * only its own share, at its own time, so a fleet of 1,024 run as 16 shards
 * of 64 is as busy as one shard.
 */

/** Trials in flight per shard: the largest window that stays above ~90% busy in the drain model. */
export const SHARD_PARALLEL = 64;
/** Ranges per shard over a sweep, so shards that finish early pick up more work instead of idling. */
const RANGES_PER_SHARD = 4;
/** A range holds at least this many windows of its shard, so starting a child costs little against its trials. */
const MIN_WINDOWS_PER_RANGE = 8;

/**
 * How many shards a sweep runs as: 1 (unsharded) unless it is a grid or random sweep wider than
 * one shard of `shardParallel` trials in flight.
 */
export function shardCount(
  spec: Pick<SweepSpec, 'method' | 'budget' | 'resources'>,
  shardParallel = SHARD_PARALLEL,
): number {
  if (spec.method !== 'grid' && spec.method !== 'random') return 1;
  const parallel = spec.budget.parallel;
  // Every shard holds at least one whole pack.
  const most = Math.floor(parallel / (spec.resources.pack ?? 1));
  return Math.max(1, Math.min(most, Math.ceil(parallel / shardParallel)));
}

/** Trials in flight for shard slot `slot` of `shards`: the slots' shares add up to `parallel`. */
export function slotParallel(parallel: number, shards: number, slot: number): number {
  return Math.floor(parallel / shards) + (slot < parallel % shards ? 1 : 0);
}

/**
 * Trials per child sweep (index range) of a sharded sweep. Every shard gets
 * the same number of ranges, so none is left running alone at the end while
 * the rest of the fleet idles (measured: 5 ranges for 4 shards made a sharded
 * sweep slower than one chain): up to four each, for shards that finish early
 * to pick up work, fewer when a range would hold fewer than eight of its
 * shard's windows (each range ends in a drain), more when one would pass
 * `maxSize` (the partition size that bounds any one child).
 */
export function shardRangeSize(spec: SweepSpec, shards: number, maxSize: number): number {
  const planned = initialStaticState(spec).total;
  const window = Math.ceil(spec.budget.parallel / shards);
  const fit = Math.floor(planned / (shards * MIN_WINDOWS_PER_RANGE * window));
  const perShard = Math.max(
    Math.min(RANGES_PER_SHARD, Math.max(1, fit)),
    Math.ceil(planned / (shards * maxSize)),
  );
  return Math.max(1, Math.ceil(planned / (shards * perShard)));
}
