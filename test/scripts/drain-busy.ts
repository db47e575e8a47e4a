/**
 * How busy a fleet stays through continue-as-new drains, measured on a real dev server: the same
 * random sweep (trials of ~1–9 s) run as one workflow chain and as shards, with the history budget
 * lowered so that, as on a cluster with hundreds of trials in flight, the reserve for the trials in
 * flight takes most of a run's budget. Busy share = the trials' nominal time (their evaluations ×
 * the delay after each: what they take on an idle machine) over `parallel` × the sweep's wall time. The two
 * run in the order A B B A, so neither gains from going second on a warm server.
 *   pnpm tsx test/scripts/drain-busy.ts [trials] [parallel] [shard-parallel] [history-budget]
 */
import { isEvalStep } from '@grokmap/plugin-sdk';
import { CONTROL_TASK_QUEUE, type SweepInput, type SweepResult, sweepSpecSchema } from '@grokmap/workflows';
import { startServerWithWorkers, syntheticSpec } from '../support/harness.js';

/** The synthetic trainer sleeps this long after each evaluation: nearly all of a trial's time. */
const STEP_DELAY_MS = 300;
const [trials = 640, parallel = 64, shardParallel = 16, budget = 600] = process.argv.slice(2).map(Number);
const { server, store, stop } = await startServerWithWorkers(parallel);
const spec = sweepSpecSchema.parse(
  syntheticSpec('drain-busy', {
    method: 'random',
    seed: 7,
    budget: { trials, parallel },
    parameters: {
      weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
      max_steps: { distribution: 'int_uniform', min: 3, max: 30 },
    },
    fixed: { eval_every: 1000, model_size: 64, data_fraction: 0.5, step_delay_ms: STEP_DELAY_MS },
  }),
);

/** A trial's time on an idle machine: the synthetic trainer's delay after each evaluation step. */
function nominalMs(maxSteps: number): number {
  let evaluations = 0;
  for (let step = 0; step <= maxSteps; step++) if (isEvalStep(step, 1000, maxSteps)) evaluations++;
  return evaluations * STEP_DELAY_MS;
}

async function measure(label: string, options: SweepInput['options']) {
  const sweepId = `drain-busy-${label}-${Date.now().toString(36)}`;
  const handle = await server.client.workflow.start('sweepWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: sweepId,
    args: [
      {
        sweepId,
        spec,
        options: { writeReport: false, maxHistoryEvents: budget, ...options },
      } satisfies SweepInput,
    ],
  });
  const result = (await handle.result()) as SweepResult;
  const rows = await store.listTrials(sweepId);
  const spans = rows.map((t) => [Date.parse(t.startedAt!), Date.parse(t.finishedAt!)] as const);
  const busy = rows.reduce((s, t) => s + nominalMs(Number(t.params.max_steps)), 0);
  const wall = Math.max(...spans.map(([, b]) => b)) - Math.min(...spans.map(([a]) => a));
  return {
    label,
    status: result.status,
    trials: rows.length,
    distinct: new Set(rows.map((t) => t.index)).size,
    wallS: +(wall / 1000).toFixed(1),
    busyShare: +(busy / (parallel * wall)).toFixed(3),
  };
}

// A first sweep warms the server and workers up, so the first measured one is not the slowest for that.
await measure('warm-up', { shardParallel: parallel });
const runs: Awaited<ReturnType<typeof measure>>[] = [];
for (const label of ['one-chain', 'shards', 'shards', 'one-chain'])
  runs.push(await measure(label, { shardParallel: label === 'shards' ? shardParallel : parallel }));
const wall = (label: string) => runs.filter((r) => r.label === label).reduce((s, r) => s + r.wallS, 0);
console.log(JSON.stringify({ trials, parallel, shardParallel, budget, runs }, null, 1));
console.log(`wall time, one chain / shards: ${(wall('one-chain') / wall('shards')).toFixed(2)}`);
await stop();
