/**
 * Drain benchmark (a model, no server): how busy a fleet stays when a sweep
 * drains its window before each continue-as-new.
 *
 * A sweep's trials are activities of its current run, so a run must wait
 * for every running trial to finish before it continues as new. The model
 * runs the sweep workflow's own drain rule (shouldDrainForContinueAsNew)
 * over a simulated fleet of `parallel` trainers, counting history events
 * as measured on the dev server for trials that finish one at a time (6 per
 * trial: the activity's scheduled, started and completed events and the
 * workflow task that handles it, test/scripts/history-events.ts), with the
 * server suggesting continue-as-new at 4,096 events (measured: a run with
 * its own budget set to 45,000 continued at 4,127). Trial durations are
 * uniform between 0.1 and 1 of the longest, as grokking runs that stop once
 * they generalize and runs that go to max_steps mix. Busy share = trainer
 * time spent training over trainer time available, until the last trial ends.
 *
 * Run: npx tsx bench/drains.ts   (or pnpm bench drains)
 */
import { pathToFileURL } from 'node:url';
import { table } from '../cli/src/text-table.js';
import { shouldDrainForContinueAsNew, streamFor } from '../workflows/src/index.js';
import { SHARD_PARALLEL, slotParallel } from '../workflows/src/shards.js';

const EVENTS_PER_TRIAL = 6;
const SERVER_SUGGESTS_AT = 4_096;
const OWN_BUDGET = 6_000;
const TRIALS = 20_000;
const FLEETS = [64, 256, 512, 1_024, 2_000];

export interface DrainRow {
  parallel: number;
  /** Busy share with the sweep's drain rule, one workflow chain. */
  busy: number;
  /** Busy share as the product runs it: concurrent shards of at most SHARD_PARALLEL (shards.ts). */
  busySharded: number;
  shards: number;
  /** Busy share if runs never drained (trials outliving their run). */
  busyWithoutDrains: number;
  runs: number;
}

interface FleetRun {
  /** Trainer time spent training, and the time the last trial ended. */
  busyTime: number;
  end: number;
  runs: number;
}

/** Simulate one sweep of `trials` on `parallel` trainers; the drain rule is the workflow's. */
export function simulateDrains(
  parallel: number,
  trials = TRIALS,
  drains = true,
  seed = 0,
): Pick<DrainRow, 'parallel' | 'busy' | 'runs'> {
  const run = simulateFleet(parallel, trials, drains, seed);
  return { parallel, busy: run.busyTime / (parallel * run.end), runs: run.runs };
}

/**
 * The same sweep as concurrent shards (shards.ts): each shard a workflow chain of its own with its
 * slot's share of the fleet and of the trials, draining on its own; busy share over the whole fleet
 * until the last shard ends (shards that end early idle their share: the product hands them more
 * ranges, so this is pessimistic).
 */
export function simulateShardedDrains(
  parallel: number,
  trials = TRIALS,
): Pick<DrainRow, 'busySharded' | 'shards'> {
  const shards = Math.max(1, Math.ceil(parallel / SHARD_PARALLEL));
  const runs = Array.from({ length: shards }, (_, slot) => {
    const share = slotParallel(parallel, shards, slot);
    return simulateFleet(share, Math.round((trials * share) / parallel), true, slot);
  });
  const busyTime = runs.reduce((sum, r) => sum + r.busyTime, 0);
  return { busySharded: busyTime / (parallel * Math.max(...runs.map((r) => r.end))), shards };
}

function simulateFleet(parallel: number, trials: number, drains: boolean, seed: number): FleetRun {
  const rand = streamFor(seed, parallel, 'bench-drains');
  const ends: number[] = [];
  let now = 0;
  let busyTime = 0;
  let launched = 0;
  let finished = 0;
  let history = 3;
  let runs = 1;
  while (finished < trials) {
    // As the workflow's loop: after each completion, drain or launch a whole round at once.
    const drain =
      drains &&
      shouldDrainForContinueAsNew(history, history >= SERVER_SUGGESTS_AT, ends.length, {
        maxHistoryEvents: OWN_BUDGET,
      });
    if (!drain) {
      const room = Math.min(parallel - ends.length, trials - launched);
      for (let k = 0; k < room; k++) {
        const duration = 0.1 + 0.9 * rand();
        ends.push(now + duration);
        busyTime += duration;
      }
      launched += room;
      history += room;
    }
    if (ends.length === 0) {
      // Drained: continue as new with a fresh history.
      history = 3;
      runs++;
      continue;
    }
    ends.sort((a, b) => a - b);
    now = ends.shift()!;
    finished++;
    history += EVENTS_PER_TRIAL - 1;
  }
  return { busyTime, end: now, runs };
}

export function benchDrains(): DrainRow[] {
  return FLEETS.map((parallel) => ({
    ...simulateDrains(parallel),
    ...simulateShardedDrains(parallel),
    busyWithoutDrains: simulateDrains(parallel, TRIALS, false).busy,
  }));
}

export function formatDrains(rows: readonly DrainRow[]): string {
  const header = [
    'budget.parallel',
    'busy share, one chain',
    'runs',
    `busy share, shards of ≤ ${SHARD_PARALLEL}`,
    'busy share, no drains',
  ];
  const body = rows.map((r) => [
    String(r.parallel),
    `${(r.busy * 100).toFixed(0)}%`,
    String(r.runs),
    `${(r.busySharded * 100).toFixed(0)}% (${r.shards})`,
    `${(r.busyWithoutDrains * 100).toFixed(0)}%`,
  ]);
  return [
    `A sweep of ${TRIALS.toLocaleString('en')} trials (durations uniform in 0.1–1), drain rule of the sweep workflow, ${EVENTS_PER_TRIAL} history events per trial, server suggesting continue-as-new at ${SERVER_SUGGESTS_AT.toLocaleString('en')} events (a model):`,
    ...table([header, ...body]),
  ].join('\n');
}

export async function runDrains(): Promise<void> {
  process.stdout.write(`${formatDrains(benchDrains())}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runDrains();
