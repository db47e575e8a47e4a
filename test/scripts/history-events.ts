/**
 * What a sweep of long trials writes to its workflow history: 4 trials of ~44 s each on a real dev
 * server with in-process workers, then the history's events by type. Progress travels in
 * heartbeats (no history); before that, each running trial's progress signals and the workflow
 * tasks that handled them made history grow with the time trials ran.
 *   pnpm tsx test/scripts/history-events.ts
 */
import { CONTROL_TASK_QUEUE, type SweepInput, sweepSpecSchema } from '@grokmap/workflows';
import { startServerWithWorkers, syntheticSpec } from '../support/harness.js';

const { server, stop } = await startServerWithWorkers(4);
const spec = sweepSpecSchema.parse(
  syntheticSpec('history-events', {
    budget: { trials: 4, parallel: 4 },
    parameters: { weight_decay: { values: [0.001, 0.002] }, data_fraction: { values: [0.1, 0.15] } },
    fixed: { max_steps: 4000, eval_every: 10, model_size: 64, step_delay_ms: 100 },
  }),
);
const t0 = Date.now();
const handle = await server.client.workflow.start('sweepWorkflow', {
  taskQueue: CONTROL_TASK_QUEUE,
  workflowId: 'history-events',
  args: [{ sweepId: 'history-events', spec, options: { writeReport: false } } satisfies SweepInput],
});
await handle.result();
const secs = (Date.now() - t0) / 1000;
const hist = await handle.fetchHistory();
const kinds = new Map<string, number>();
for (const e of hist.events ?? []) {
  // The attributes field names the event type (workflowExecutionSignaledEventAttributes, …).
  const attributes = Object.keys(e).find(
    (key) => key.endsWith('EventAttributes') && e[key as keyof typeof e],
  );
  const kind = attributes?.replace('EventAttributes', '') ?? 'unknown';
  kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
}
console.log(JSON.stringify({ secs, events: hist.events?.length, kinds: Object.fromEntries(kinds) }));
await stop();
