/**
 * Orchestration benchmark: what Temporal + grokmap cost per trial when the
 * trainer itself costs nothing.
 *
 * Per configuration (trials N × trainer worker processes W) it starts a
 * fresh embedded dev server (SQLite, no UI), a SQLite results store, a
 * control worker in this process and W trainer worker processes
 * (`grokmap worker --queue cpu --isolation inline`), then runs one random
 * sweep of N synthetic trials at 10 steps, no step delay, `parallel` trials
 * in flight. It measures:
 *
 * - trials/s and wall-clock ms per trial (wall / N): how fast the system
 *   retires trials;
 * - CPU-ms per trial: user + system CPU of every process (server, this
 *   process with the control worker, the trainer workers) over the sweep,
 *   divided by N — the bookkeeping a cluster pays per trial, whatever the
 *   number of cores;
 * - history events per workflow run (max over the runs the sweep
 *   continued into; Temporal warns at 10,240) and events per trial by type;
 * - peak RSS (VmHWM) of each process;
 * - a store-only measurement: the trainer activity's three store calls per
 *   trial (getTrial, markTrialRunning, recordTrialResult with curves) done
 *   sequentially in one process, to say how much of the CPU per trial the
 *   store accounts for.
 *
 * Compared with Ray Tune's ~9 ms of bookkeeping per trial (10,000 one-second
 * trials on 16 CPUs in 715 s against a 625 s floor) and Optuna's ~9 ms per
 * trivial in-memory trial.
 *
 * Run: npx tsx bench/orchestration.ts [--trials 1000,10000] [--workers 1,2,4]
 *      [--cases 1000x1,10000x4] [--pack 1,16] [--parallel 200] [--concurrency 100] [--quick]
 *
 * `--pack K` sends K trials per trainer activity (`resources.pack`): the
 * per-activity cost (history events, task round trips, store sessions) is
 * shared by K trials.
 * Writes .grokmap/bench/orchestration.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { z } from 'zod';
import { table } from '../cli/src/text-table.js';
import { startDevServer } from '../infra/src/index.js';
import { createTestContext, type TrialOutcome } from '../plugins/sdk/src/index.js';
import syntheticTrainer from '../plugins/synthetic/src/index.js';
import {
  installTemporalRuntime,
  openStore,
  type ResultsStore,
  startControlWorker,
} from '../workers/src/index.js';
import {
  CONTROL_TASK_QUEUE,
  type SweepInput,
  type SweepResult,
  sweepSpecSchema,
  trainerTaskQueue,
} from '../workflows/src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI_ENTRY = path.join(ROOT, 'cli', 'src', 'main.ts');
const OUT_FILE = path.join(ROOT, '.grokmap', 'bench', 'orchestration.json');
const logger = pino({ level: process.env.GROKMAP_BENCH_LOG_LEVEL ?? 'warn' });

/** Temporal's per-run history warning; the hard limit is 51,200. */
export const HISTORY_WARNING_EVENTS = 10_240;
/** Ray Tune: (715 s − 625 s) / 10,000 trials. */
export const RAY_TUNE_MS_PER_TRIAL = 9;

export const orchestrationArgsSchema = z.strictObject({
  trials: z.array(z.number().int().positive()).min(1).default([1_000, 10_000]),
  workers: z.array(z.number().int().positive()).min(1).default([1, 2, 4]),
  /** Explicit (trials, workers) pairs instead of every trials × workers combination. */
  cases: z.array(z.tuple([z.number().int().positive(), z.number().int().positive()])).optional(),
  /** Trials per trainer activity (`resources.pack`); every case runs at each. */
  packs: z.array(z.number().int().positive().max(1024)).min(1).default([1]),
  /** Trials in flight (budget.parallel). */
  parallel: z.number().int().positive().max(2000).default(200),
  /** Activity slots per trainer worker process. */
  concurrency: z.number().int().positive().default(100),
  maxSteps: z.number().int().positive().default(10),
  /** Trials for the store-only measurement. */
  storeTrials: z.number().int().positive().default(2_000),
  out: z.string().default(OUT_FILE),
});
export type OrchestrationArgs = z.input<typeof orchestrationArgsSchema>;

export interface ProcessFigures {
  role: 'server' | 'control' | 'trainer';
  pid: number;
  cpuMs: number;
  peakRssMb: number;
}

export interface OrchestrationRow {
  trials: number;
  workers: number;
  /** Trials per trainer activity. */
  pack: number;
  parallel: number;
  wallS: number;
  trialsPerS: number;
  /** Wall-clock time per trial: wall / trials. */
  wallMsPerTrial: number;
  /** CPU of all processes over the sweep / trials. */
  cpuMsPerTrial: number;
  /** The same split by role. */
  cpuMsPerTrialByRole: Record<ProcessFigures['role'], number>;
  /** Workflow runs the sweep used (1 + continue-as-new). */
  runs: number;
  historyEventsPerRun: number[];
  maxHistoryEvents: number;
  /** All events of all runs / trials, and by event type. */
  eventsPerTrial: number;
  eventsPerTrialByType: Record<string, number>;
  timings: HistoryTimings;
  processes: ProcessFigures[];
  /** Every trial recorded exactly once, all completed. */
  verified: boolean;
}

export interface StoreFigures {
  trials: number;
  /** Wall (= CPU, synchronous SQLite) ms per trial for getTrial + markTrialRunning + recordTrialResult. */
  msPerTrial: number;
  curvePointsPerTrial: number;
}

export interface OrchestrationResult {
  machine: { cpus: number; model: string; node: string };
  args: z.output<typeof orchestrationArgsSchema>;
  rows: OrchestrationRow[];
  store: StoreFigures;
  signal: SignalFigures;
  /** 1-minute load average before and after: wall-clock figures are only comparable on an idle machine. */
  loadAverage: { before: number; after: number };
  rayTuneMsPerTrial: number;
}

// ---- /proc readings (Linux) ----

const CLOCK_TICKS = 100; // USER_HZ on Linux

function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11], fields[12] are utime, stime (fields 14 and 15 of proc(5), counted from state = 3).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

function peakRssMbOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    return Math.round(kb / 102.4) / 10;
  } catch {
    return Number.NaN;
  }
}

// ---- pieces ----

function syntheticSweep(name: string, trials: number, parallel: number, maxSteps: number, pack: number) {
  return sweepSpecSchema.parse({
    name,
    trainer: 'synthetic',
    method: 'random',
    budget: { trials, parallel },
    resources: { queue: 'cpu', pack },
    parameters: {
      weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
      data_fraction: { distribution: 'uniform', min: 0.1, max: 0.9 },
    },
    fixed: {
      max_steps: maxSteps,
      eval_every: Math.max(1, Math.floor(maxSteps / 2)),
      checkpoint_every: maxSteps,
      step_delay_ms: 0,
      model_size: 64,
    },
    phase: { threshold: 0.99, delay_steps: 1000 },
  });
}

function spawnTrainerWorker(
  env: NodeJS.ProcessEnv,
  concurrency: number,
): ChildProcess & { output: () => string } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI_ENTRY,
      'worker',
      '--queue',
      'cpu',
      '--concurrency',
      String(concurrency),
      '--isolation',
      'inline',
      '--json',
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  return Object.assign(child, { output: () => output });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Wait until `count` distinct worker processes poll the trainer activity queue. */
async function waitForPollers(client: Client, queue: string, count: number, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const described = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: queue },
      taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
    });
    if ((described.pollers ?? []).length >= count) return;
    if (Date.now() > deadline)
      throw new Error(`only ${(described.pollers ?? []).length} of ${count} trainer workers polled ${queue}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

type ProtoEnums = { EventType: Record<number, string>; TimeoutType: Record<number, string> };

/** The proto enums (event and timeout type names), from the package the client itself uses. */
function protoEnums(): ProtoEnums {
  const requireFromClient = createRequire(createRequire(import.meta.url).resolve('@temporalio/client'));
  const proto = requireFromClient('@temporalio/proto') as {
    temporal: { api: { enums: { v1: ProtoEnums } } };
  };
  return proto.temporal.api.enums.v1;
}
const eventTypeNames = () => protoEnums().EventType;
const timeoutTypeNames = () => protoEnums().TimeoutType;

/** Where a trial's wall time goes, from the event timestamps of every run's history (ms). */
export interface HistoryTimings {
  /** Workflow task scheduled → picked up by the control worker. */
  workflowTaskQueueMs: Summary;
  /** Workflow task picked up → completed (the control worker's processing of a batch of events). */
  workflowTaskRunMs: Summary;
  /** Events in the batch each workflow task handled (since the previous task). */
  eventsPerWorkflowTask: Summary;
  /** runTrial scheduled → picked up by a trainer worker. */
  activityQueueMs: Summary;
  /** runTrial picked up → completion recorded (trainer, store writes, heartbeat, signal). */
  activityRunMs: Summary;
  /** Workflow task timeouts by type (START_TO_CLOSE, SCHEDULE_TO_START): each stalls the sweep. */
  workflowTaskTimeouts: Record<string, number>;
}

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

function summarize(xs: number[]): Summary {
  if (xs.length === 0) return { n: 0, mean: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    n: xs.length,
    mean: round(xs.reduce((a, b) => a + b, 0) / xs.length, 1),
    p50: round(at(0.5), 1),
    p99: round(at(0.99), 1),
    max: round(sorted[sorted.length - 1]!, 1),
  };
}

function timeMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return Number.NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

/** Every run of a workflow chain (continue-as-new): event counts, event types and timings. */
/**
 * The history of a sweep and, when it ran as partitions, of every child
 * sweep (`<id>.pNNNN`): the runs of all of them, so the per-run maximum
 * covers every workflow run the sweep used. Timings are the parent's.
 */
async function historyOfSweep(client: Client, sweepId: string): ReturnType<typeof historyOfRuns> {
  const parent = await historyOfRuns(client, sweepId);
  const children = new Set<string>();
  for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH "${sweepId}.p"` }))
    children.add(w.workflowId);
  for (const child of [...children].sort()) {
    const h = await historyOfRuns(client, child);
    parent.perRun.push(...h.perRun);
    for (const [type, n] of Object.entries(h.byType)) parent.byType[type] = (parent.byType[type] ?? 0) + n;
  }
  return parent;
}

async function historyOfRuns(
  client: Client,
  workflowId: string,
): Promise<{ perRun: number[]; byType: Record<string, number>; timings: HistoryTimings }> {
  const names = eventTypeNames();
  const timeoutNames = timeoutTypeNames();
  const byType: Record<string, number> = {};
  const perRun: number[] = [];
  const wftQueue: number[] = [];
  const wftRun: number[] = [];
  const wftBatch: number[] = [];
  const actQueue: number[] = [];
  const actRun: number[] = [];
  const timeouts: Record<string, number> = {};
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    let count = 0;
    let previous: string | undefined;
    let nextPageToken: Uint8Array | undefined;
    const times = new Map<number, number>();
    let lastTaskEnd = 0;
    do {
      const page = await client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId, runId },
        maximumPageSize: 1000,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      for (const event of page.history?.events ?? []) {
        count += 1;
        const id = Number(event.eventId);
        const at = timeMs(event.eventTime);
        times.set(id, at);
        const name = String(names[Number(event.eventType)] ?? event.eventType).replace(/^EVENT_TYPE_/, '');
        byType[name] = (byType[name] ?? 0) + 1;
        const continued = event.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
        if (continued) previous = continued;
        const wftStarted = event.workflowTaskStartedEventAttributes;
        if (wftStarted) wftQueue.push(at - times.get(Number(wftStarted.scheduledEventId))!);
        const wftCompleted = event.workflowTaskCompletedEventAttributes;
        if (wftCompleted) {
          wftRun.push(at - times.get(Number(wftCompleted.startedEventId))!);
          wftBatch.push(Number(wftCompleted.startedEventId) - lastTaskEnd);
          lastTaskEnd = id;
        }
        const wftTimedOut = event.workflowTaskTimedOutEventAttributes;
        if (wftTimedOut) {
          const type = String(
            timeoutNames[Number(wftTimedOut.timeoutType)] ?? wftTimedOut.timeoutType,
          ).replace(/^TIMEOUT_TYPE_/, '');
          timeouts[type] = (timeouts[type] ?? 0) + 1;
        }
        const actStarted = event.activityTaskStartedEventAttributes;
        if (actStarted) actQueue.push(at - times.get(Number(actStarted.scheduledEventId))!);
        const actCompleted = event.activityTaskCompletedEventAttributes;
        if (actCompleted) actRun.push(at - times.get(Number(actCompleted.startedEventId))!);
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    perRun.push(count);
    runId = previous;
  }
  return {
    perRun: perRun.reverse(),
    byType,
    timings: {
      workflowTaskQueueMs: summarize(wftQueue),
      workflowTaskRunMs: summarize(wftRun),
      eventsPerWorkflowTask: summarize(wftBatch),
      activityQueueMs: summarize(actQueue),
      activityRunMs: summarize(actRun),
      workflowTaskTimeouts: timeouts,
    },
  };
}

async function verifyTrials(store: ResultsStore, sweepId: string, trials: number): Promise<boolean> {
  const rows = await store.listTrials(sweepId);
  const indices = new Set(rows.map((r) => r.index));
  return (
    rows.length === trials &&
    indices.size === trials &&
    new Set(rows.map((r) => r.trialId)).size === trials &&
    rows.every((r) => r.status === 'completed')
  );
}

/** A fresh dev server, SQLite store, client and in-process control worker under a temp home. */
async function startBenchCluster(prefix: string) {
  const home = mkdtempSync(path.join(os.tmpdir(), `grokmap-bench-${prefix}-`));
  const server = await startDevServer({ home, logger, ui: false, detached: false });
  const store = await openStore({ sqlitePath: path.join(home, 'grokmap.db'), logger });
  await store.migrate();
  const clientConnection = await Connection.connect({ address: server.address });
  const client = new Client({ connection: clientConnection, namespace: 'default' });
  const workerConnection = await NativeConnection.connect({ address: server.address });
  const control = await startControlWorker({
    connection: workerConnection,
    namespace: 'default',
    store,
    logger,
  });
  return {
    home,
    server,
    store,
    client,
    async stop() {
      await control.shutdown();
      await workerConnection.close();
      await clientConnection.close();
      await store.close();
      await server.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** One sweep of `trials` on a fresh server with `workers` trainer processes. */
export async function runOrchestrationCase(
  trials: number,
  workers: number,
  pack: number,
  args: z.output<typeof orchestrationArgsSchema>,
): Promise<OrchestrationRow> {
  const cluster = await startBenchCluster('orch');
  const { home, server, store, client } = cluster;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GROKMAP_TEMPORAL_ADDRESS: server.address,
    GROKMAP_TEMPORAL_NAMESPACE: 'default',
    GROKMAP_HOME: home,
    GROKMAP_DATABASE_URL: '',
    GROKMAP_LOG_LEVEL: 'warn',
  };
  const children = Array.from({ length: workers }, () => spawnTrainerWorker(env, args.concurrency));
  try {
    await waitForPollers(client, trainerTaskQueue('cpu'), workers).catch((err: Error) => {
      throw new Error(`${err.message}\n${children.map((c) => c.output()).join('\n')}`);
    });
    const pids: { role: ProcessFigures['role']; pid: number }[] = [
      { role: 'server', pid: server.pid },
      { role: 'control', pid: process.pid },
      ...children.map((c) => ({ role: 'trainer' as const, pid: c.pid! })),
    ];
    const cpuBefore = pids.map((p) => cpuMsOf(p.pid));
    const sweepId = `bench-orch-${trials}-${workers}-${pack}-${Date.now().toString(36)}`;
    const spec = syntheticSweep(sweepId, trials, args.parallel, args.maxSteps, pack);
    const started = performance.now();
    const handle = await client.workflow.start('sweepWorkflow', {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: sweepId,
      args: [{ sweepId, spec, options: { writeReport: false } } satisfies SweepInput],
    });
    const result = (await handle.result()) as SweepResult;
    const wallMs = performance.now() - started;
    const processes: ProcessFigures[] = pids.map((p, i) => ({
      ...p,
      cpuMs: Math.round(cpuMsOf(p.pid) - cpuBefore[i]!),
      peakRssMb: peakRssMbOf(p.pid),
    }));
    if (result.status !== 'completed') throw new Error(`sweep ${sweepId} ended ${result.status}`);
    const verified = await verifyTrials(store, sweepId, trials);
    const history = await historyOfSweep(client, sweepId);
    const totalEvents = history.perRun.reduce((a, b) => a + b, 0);
    const cpuMs = processes.reduce((a, p) => a + p.cpuMs, 0);
    const byRole = { server: 0, control: 0, trainer: 0 };
    for (const p of processes) byRole[p.role] += p.cpuMs / trials;
    return {
      trials,
      workers,
      pack,
      parallel: args.parallel,
      wallS: round(wallMs / 1000, 2),
      trialsPerS: round(trials / (wallMs / 1000), 1),
      wallMsPerTrial: round(wallMs / trials, 2),
      cpuMsPerTrial: round(cpuMs / trials, 2),
      cpuMsPerTrialByRole: {
        server: round(byRole.server, 2),
        control: round(byRole.control, 2),
        trainer: round(byRole.trainer, 2),
      },
      runs: history.perRun.length,
      historyEventsPerRun: history.perRun,
      maxHistoryEvents: Math.max(...history.perRun),
      eventsPerTrial: round(totalEvents / trials, 2),
      eventsPerTrialByType: Object.fromEntries(
        Object.entries(history.byType)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, round(v / trials, 3)]),
      ),
      timings: history.timings,
      processes,
      verified,
    };
  } finally {
    await Promise.all(children.map(stopChild));
    await cluster.stop();
  }
}

export interface SignalFigures {
  signals: number;
  /** Server CPU per progress signal (RPC, history event, the workflow task it causes). */
  serverCpuMsPerSignal: number;
  /** This process: the client sending it and the control worker replaying it in a workflow task. */
  clientAndControlCpuMsPerSignal: number;
}

/**
 * The cost of one `trialProgress` signal, alone: a sweep waits on a queue
 * no worker polls while this process sends it `signals` progress signals
 * (for a trial id it does not know, so they change nothing), 50 at a time.
 */
export async function benchSignalCost(signals: number): Promise<SignalFigures> {
  const cluster = await startBenchCluster('signal');
  const { server, client } = cluster;
  try {
    const sweepId = `bench-signal-${Date.now().toString(36)}`;
    const spec = sweepSpecSchema.parse({
      ...syntheticSweep(sweepId, 1, 1, 10, 1),
      resources: { queue: 'nobody-polls-this' },
    });
    const handle = await client.workflow.start('sweepWorkflow', {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: sweepId,
      args: [{ sweepId, spec, options: { writeReport: false } } satisfies SweepInput],
    });
    // Wait until the trial is scheduled (the workflow is idle, waiting on it).
    for (let i = 0; i < 400; i++) {
      const { historyLength } = await handle.describe();
      if (historyLength >= 10) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const serverBefore = cpuMsOf(server.pid);
    const selfBefore = cpuMsOf(process.pid);
    let sent = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (sent < signals) {
          sent += 1;
          await handle.signal('trialProgress', { trialId: 'no-such-trial', step: sent, attempt: 1 });
        }
      }),
    );
    // Let the control worker process the last workflow tasks.
    await new Promise((r) => setTimeout(r, 2_000));
    const result = {
      signals,
      serverCpuMsPerSignal: round((cpuMsOf(server.pid) - serverBefore) / signals, 3),
      clientAndControlCpuMsPerSignal: round((cpuMsOf(process.pid) - selfBefore) / signals, 3),
    };
    await handle.terminate('signal benchmark done');
    return result;
  } finally {
    await cluster.stop();
  }
}

/** The trainer activity's store calls per trial, alone: SQLite, one process, sequential. */
export async function benchStoreWrites(trials: number): Promise<StoreFigures> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'grokmap-bench-store-'));
  const store = await openStore({ sqlitePath: path.join(home, 'grokmap.db'), logger });
  try {
    await store.migrate();
    const curvePoints: number[] = [];
    const outcomes = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        syntheticOutcome({ weight_decay: 0.01 * (i + 1), data_fraction: 0.5 }),
      ),
    );
    const started = performance.now();
    for (let i = 0; i < trials; i++) {
      const trialId = `store-bench-${i}`;
      const params = { weight_decay: 0.1, data_fraction: 0.5 };
      await store.getTrial(trialId);
      await store.markTrialRunning({ sweepId: 'store-bench', trialId, index: i, params, attempt: 1 });
      const outcome = outcomes[i % outcomes.length]!;
      curvePoints.push(outcome.curves.length);
      await store.recordTrialResult({
        sweepId: 'store-bench',
        trialId,
        index: i,
        params,
        attempts: 1,
        outcome,
        phase: 'confusion',
        tTrain: null,
        tVal: null,
        ratio: null,
        valAtTrain: null,
        semiGrokking: false,
      });
    }
    const ms = performance.now() - started;
    return {
      trials,
      msPerTrial: round(ms / trials, 3),
      curvePointsPerTrial: round(curvePoints.reduce((a, b) => a + b, 0) / trials, 1),
    };
  } finally {
    await store.close();
    rmSync(home, { recursive: true, force: true });
  }
}

/** The synthetic trainer's real outcome at 10 steps, so the stored rows are the ones a sweep writes. */
async function syntheticOutcome(params: Record<string, number>): Promise<TrialOutcome> {
  const parsed = syntheticTrainer.params.parse({
    ...params,
    max_steps: 10,
    eval_every: 5,
    checkpoint_every: 10,
  });
  return syntheticTrainer.train(parsed, createTestContext());
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function formatOrchestrationBench(result: OrchestrationResult): string {
  const lines: string[] = [];
  lines.push(
    `Orchestration overhead: synthetic trainer, ${result.args.maxSteps} steps, no delay; random sweep, parallel ${result.args.parallel}; embedded dev server (SQLite); SQLite store; ${result.machine.cpus} CPUs (${result.machine.model})`,
  );
  lines.push('');
  lines.push(
    ...table([
      [
        'trials',
        'workers',
        'pack',
        'wall s',
        'trials/s',
        'wall ms/trial',
        'CPU ms/trial',
        'server',
        'control',
        'trainers',
        '× Ray 9 ms',
        'runs',
        'max events/run',
        'events/trial',
        'peak RSS MB (srv/ctl/trainers)',
        'ok',
      ],
      ...result.rows.map((r) => [
        String(r.trials),
        String(r.workers),
        String(r.pack),
        r.wallS.toFixed(1),
        r.trialsPerS.toFixed(1),
        r.wallMsPerTrial.toFixed(2),
        r.cpuMsPerTrial.toFixed(2),
        r.cpuMsPerTrialByRole.server.toFixed(2),
        r.cpuMsPerTrialByRole.control.toFixed(2),
        r.cpuMsPerTrialByRole.trainer.toFixed(2),
        (r.cpuMsPerTrial / result.rayTuneMsPerTrial).toFixed(2),
        String(r.runs),
        `${r.maxHistoryEvents}${r.maxHistoryEvents >= HISTORY_WARNING_EVENTS ? ' (!)' : ''}`,
        r.eventsPerTrial.toFixed(2),
        r.processes
          .filter((p) => p.role !== 'trainer')
          .map((p) => p.peakRssMb.toFixed(0))
          .concat([
            r.processes
              .filter((p) => p.role === 'trainer')
              .map((p) => p.peakRssMb.toFixed(0))
              .join(','),
          ])
          .join(' / '),
        r.verified ? 'yes' : 'NO',
      ]),
    ]),
  );
  const last = result.rows[result.rows.length - 1];
  if (last) {
    lines.push('');
    lines.push(
      `History events per trial by type (${last.trials} trials, ${last.workers} workers): ${Object.entries(
        last.eventsPerTrialByType,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  if (last) {
    const t = last.timings;
    const f = (x: Summary) => `mean ${x.mean} / p50 ${x.p50} / p99 ${x.p99} / max ${x.max}`;
    lines.push(`Timings (ms, ${last.trials} trials, ${last.workers} workers):`);
    lines.push(`  workflow task queued  ${f(t.workflowTaskQueueMs)}`);
    lines.push(`  workflow task run     ${f(t.workflowTaskRunMs)} (${t.workflowTaskRunMs.n} tasks)`);
    lines.push(`  events per wf task    ${f(t.eventsPerWorkflowTask)}`);
    lines.push(`  runTrial queued       ${f(t.activityQueueMs)}`);
    lines.push(`  runTrial run          ${f(t.activityRunMs)}`);
    lines.push(`  workflow task timeouts ${JSON.stringify(t.workflowTaskTimeouts)}`);
  }
  lines.push(
    `Store alone (SQLite, getTrial + markTrialRunning + recordTrialResult with ${result.store.curvePointsPerTrial} curve points, sequential): ${result.store.msPerTrial.toFixed(3)} ms/trial`,
  );
  lines.push(
    `One progress signal alone: ${result.signal.serverCpuMsPerSignal.toFixed(3)} server CPU ms + ${result.signal.clientAndControlCpuMsPerSignal.toFixed(3)} client/control CPU ms (${result.signal.signals} signals)`,
  );
  lines.push(
    `Load average (1 min) ${result.loadAverage.before} before, ${result.loadAverage.after} after, on ${result.machine.cpus} CPUs: wall-clock figures are only comparable between runs on an idle machine; CPU ms per trial is.`,
  );
  lines.push(
    `Reference: Ray Tune ~${result.rayTuneMsPerTrial} ms of bookkeeping per trial; Optuna ~9 ms per trivial in-memory trial, ~127 ms on MySQL. Temporal warns at ${HISTORY_WARNING_EVENTS} events per run.`,
  );
  return lines.join('\n');
}

export async function benchOrchestration(
  input: OrchestrationArgs | string[] = {},
): Promise<OrchestrationResult> {
  const args = orchestrationArgsSchema.parse(Array.isArray(input) ? parseArgv(input) : input);
  installTemporalRuntime(logger);
  const loadBefore = round(os.loadavg()[0]!, 2);
  const rows: OrchestrationRow[] = [];
  const cases = args.cases ?? args.trials.flatMap((t) => args.workers.map((w) => [t, w] as [number, number]));
  for (const [trials, workers] of cases) {
    for (const pack of args.packs) {
      process.stderr.write(
        `orchestration: ${trials} trials, ${workers} trainer worker process(es), packs of ${pack}…\n`,
      );
      const row = await runOrchestrationCase(trials, workers, pack, args);
      process.stderr.write(
        `  ${row.trialsPerS} trials/s, ${row.cpuMsPerTrial} CPU ms/trial, max ${row.maxHistoryEvents} events/run\n`,
      );
      rows.push(row);
    }
  }
  const store = await benchStoreWrites(args.storeTrials);
  const signal = await benchSignalCost(args.storeTrials);
  const result: OrchestrationResult = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    args,
    rows,
    store,
    signal,
    loadAverage: { before: loadBefore, after: round(os.loadavg()[0]!, 2) },
    rayTuneMsPerTrial: RAY_TUNE_MS_PER_TRIAL,
  };
  mkdirSync(path.dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${formatOrchestrationBench(result)}\nwritten: ${path.relative(ROOT, args.out)}\n`);
  const broken = rows.filter((r) => !r.verified || r.maxHistoryEvents >= HISTORY_WARNING_EVENTS);
  if (broken.length > 0) {
    process.stderr.write(
      `orchestration: ${broken.length} case(s) lost or duplicated trials or let a run's history reach ${HISTORY_WARNING_EVENTS} events\n`,
    );
    process.exitCode = 1;
  }
  return result;
}

function parseArgv(argv: string[]): OrchestrationArgs {
  const list = (v: string) => v.split(',').map((s) => Number(s.trim()));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const need = () => {
      if (value === undefined) throw new Error(`${flag} needs a value`);
      i += 1;
      return value;
    };
    if (flag === '--quick') {
      out.trials ??= [200];
      out.workers ??= [1, 2];
      out.storeTrials ??= 500;
    } else if (flag === '--trials') out.trials = list(need());
    else if (flag === '--workers') out.workers = list(need());
    else if (flag === '--cases')
      out.cases = need()
        .split(',')
        .map((c) => c.split('x').map(Number));
    else if (flag === '--parallel') out.parallel = Number(need());
    else if (flag === '--pack') out.packs = list(need());
    else if (flag === '--concurrency') out.concurrency = Number(need());
    else if (flag === '--max-steps') out.maxSteps = Number(need());
    else if (flag === '--store-trials') out.storeTrials = Number(need());
    else if (flag === '--out') out.out = path.resolve(need());
    else throw new Error(`unknown option ${flag} (see the header of bench/orchestration.ts)`);
  }
  return out as OrchestrationArgs;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchOrchestration(process.argv.slice(2));
}
