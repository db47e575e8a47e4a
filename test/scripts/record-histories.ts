/**
 * Record real histories of every workflow type into test/histories/, for the
 * replay tests. Run after a deliberate change to workflow code:
 *   pnpm tsx test/scripts/record-histories.ts [name…]   (only the sweeps named, e.g. sweep-packed)
 * Each history comes from a real run on a real dev server with real workers.
 */
import { CONTROL_TASK_QUEUE, type SweepInput, sweepSpecSchema } from '@grokmap/workflows';
import { startServerWithWorkers, syntheticSpec } from '../support/harness.js';

process.env.GROKMAP_RECORD_HISTORIES = '1';
const { maybeRecordHistory } = await import('../support/histories.js');

const { server, stop } = await startServerWithWorkers(2);

async function run(
  name: string,
  raw: Record<string, unknown>,
  options: SweepInput['options'] = {},
  cancel = false,
) {
  if (only.length > 0 && !only.includes(name)) return name;
  const spec = sweepSpecSchema.parse(raw);
  const sweepId = `${name}-${Date.now().toString(36)}`;
  const handle = await server.client.workflow.start('sweepWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: sweepId,
    args: [{ sweepId, spec, options: { writeReport: false, ...options } } satisfies SweepInput],
  });
  if (cancel) {
    await new Promise((r) => setTimeout(r, 4_000));
    await handle.cancel();
  }
  await handle.result().catch(() => undefined);
  await maybeRecordHistory(server.client, sweepId, name);
  return sweepId;
}

const only = process.argv.slice(2);

const small = {
  budget: { trials: 6, parallel: 3 },
  parameters: { weight_decay: { values: [0.1, 1, 10] }, data_fraction: { values: [0.3, 0.7] } },
};
await run('sweep-grid', syntheticSpec('grid', small));
await run('sweep-packed', syntheticSpec('packed', { ...small, resources: { queue: 'cpu', pack: 2 } }));
await run('sweep-continued-as-new', syntheticSpec('can', small), { maxHistoryEvents: 40 });
const parent = await run('sweep-partitioned-parent', syntheticSpec('part', small), { partitionSize: 4 });
if (parent !== 'sweep-partitioned-parent')
  await maybeRecordHistory(server.client, `${parent}.p0000`, 'sweep-partition-child');
// 12 trials, 4 in flight as 2 shards of 2, in ranges of 3; the parent continues as new between children.
await run(
  'sweep-sharded-parent',
  syntheticSpec('shard', {
    budget: { trials: 12, parallel: 4 },
    parameters: { weight_decay: { values: [0.1, 1, 10] }, data_fraction: { values: [0.2, 0.4, 0.6, 0.8] } },
  }),
  { shardParallel: 2, partitionSize: 3, maxHistoryEvents: 40 },
);
await run(
  'sweep-cancelled',
  syntheticSpec('cancel', {
    ...small,
    fixed: { max_steps: 20000, eval_every: 50, model_size: 64, step_delay_ms: 200 },
  }),
  {},
  true,
);
const space = {
  weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
  data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
};
await run(
  'sweep-bayes',
  syntheticSpec('bayes', {
    method: 'bayes',
    metric: { name: 'steps_to_generalize', goal: 'minimize' },
    budget: { trials: 8, parallel: 4 },
    parameters: space,
  }),
);
await run(
  'sweep-adaptive',
  syntheticSpec('adaptive', {
    method: 'adaptive',
    adaptive: { batch: 4, initial: 8 },
    budget: { trials: 12, parallel: 4 },
    parameters: space,
  }),
);

// Regression checks: a first run (becomes the baseline) and a second compared with it.
const regressionSpec = sweepSpecSchema.parse(
  syntheticSpec('regression', { ...small, regression: { max_changed_cells: 0.2, max_boundary_shift: 0.1 } }),
);
for (const name of ['regression-baseline', 'regression-compared'].filter(
  (n) => only.length === 0 || only.includes(n),
)) {
  const workflowId = `${name}-${Date.now().toString(36)}`;
  const handle = await server.client.workflow.start('regressionWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId,
    args: [{ scheduleName: 'record', spec: regressionSpec, options: { writeReport: false } }],
  });
  await handle.result();
  await maybeRecordHistory(server.client, workflowId, name);
}

await stop();
process.stdout.write('recorded histories in test/histories/\n');
