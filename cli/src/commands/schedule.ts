import path from 'node:path';
import {
  CONTROL_TASK_QUEUE,
  formatProblems,
  type NotifyTarget,
  type RegressionInput,
  type RegressionVerdict,
  regressionSweepId,
  type SweepSpec,
  safeIdentifier,
  scheduleWorkflowIdPrefix,
} from '@grokmap/workflows';
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  type ScheduleHandle,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleSpec,
  WorkflowFailedError,
} from '@temporalio/client';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { CliError, checkSpecFile, connectClient, createLogger } from '../context.js';

/**
 * `grokmap schedule …`: recurring regression sweeps on Temporal Schedules.
 * Each run is a `regressionWorkflow` that runs the spec's sweep, compares it
 * with its baseline and notifies a webhook when it regressed or its sweep failed.
 */

/** Exit code of `schedule trigger --wait` when the run regressed: a CI job can gate on it. */
export const EXIT_REGRESSED = 3;
/** … when the run was inconclusive and `--fail-on-inconclusive` was given. */
export const EXIT_INCONCLUSIVE = 4;
/** … when the overlap policy skipped the triggered run. */
export const EXIT_SKIPPED = 5;
/** … when the run's sweep failed (failure budget spent, failed for good, or every trial failed). */
export const EXIT_FAILED = 6;
/** Bad input (spec, name, options): nothing was created. */
const EXIT_USAGE = 2;

const OVERLAP = { skip: ScheduleOverlapPolicy.SKIP, buffer: ScheduleOverlapPolicy.BUFFER_ONE } as const;
type OverlapName = keyof typeof OVERLAP;

/** What the schedule remembers about how it was made, for `list` and `describe`. */
interface ScheduleMemo {
  specName: string;
  specFile: string;
  cron?: string;
  every?: string;
  baseline: string;
  overlap: OverlapName;
  webhook?: string;
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function checkName(name: string): void {
  const parsed = safeIdentifier.safeParse(name);
  if (!parsed.success) {
    throw new CliError(
      `schedule name '${name}': ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      EXIT_USAGE,
    );
  }
}

/** A validated spec, or exit 2 with every problem listed by path. */
async function loadSpec(file: string): Promise<SweepSpec> {
  const check = await checkSpecFile(file);
  if (!check.ok) {
    throw new CliError(
      `${file}: ${check.problems.length} problem(s)\n${formatProblems(check.problems)}`,
      EXIT_USAGE,
    );
  }
  return check.spec;
}

const DURATION = /^\d+(\.\d+)?(ms|s|m|h|d)$/;

function scheduleSpecFrom(opts: { cron?: string; every?: string }): ScheduleSpec {
  if ((opts.cron === undefined) === (opts.every === undefined))
    throw new CliError('give exactly one of --cron "<expr>" or --every <duration>', EXIT_USAGE);
  if (opts.every !== undefined) {
    if (!DURATION.test(opts.every))
      throw new CliError(`--every '${opts.every}': expected a duration such as 30m, 6h or 1d`, EXIT_USAGE);
    return { intervals: [{ every: opts.every as `${number}h` }] };
  }
  return { cronExpressions: [opts.cron!] };
}

function notifyFrom(opts: { webhook?: string; slack?: boolean }): NotifyTarget | undefined {
  if (!opts.webhook) {
    if (opts.slack) throw new CliError('--slack needs --webhook <url>', EXIT_USAGE);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(opts.webhook);
  } catch {
    throw new CliError(`--webhook '${opts.webhook}' is not a URL`, EXIT_USAGE);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`--webhook '${opts.webhook}': only http and https are supported`, EXIT_USAGE);
  return { url: url.toString(), format: opts.slack ? 'slack' : 'json' };
}

function baselineFrom(value: string | undefined): string {
  if (value === undefined) return 'last-pass';
  if (value.trim() === '') throw new CliError('--baseline must not be empty', EXIT_USAGE);
  return value;
}

async function withClient<T>(logger: Logger, fn: (client: Client) => Promise<T>): Promise<T> {
  const connected = await connectClient(logger);
  try {
    return await fn(connected.client);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new CliError(`no schedule named ${err.scheduleId}`);
    throw err;
  } finally {
    await connected.close();
  }
}

function inputOf(description: ScheduleDescription): RegressionInput {
  return description.action.args?.[0] as RegressionInput;
}

function memoOf(description: { memo?: Record<string, unknown> }): Partial<ScheduleMemo> {
  return (description.memo ?? {}) as Partial<ScheduleMemo>;
}

function overlapName(policy: ScheduleOverlapPolicy | undefined): string {
  if (policy === ScheduleOverlapPolicy.SKIP) return 'skip';
  return policy === ScheduleOverlapPolicy.BUFFER_ONE ? 'buffer' : String(policy ?? 'skip').toLowerCase();
}

/**
 * A run of a schedule: its workflow id and the run id it started with. The
 * scheduler names a run's workflow by the second it was due, so two runs
 * due in the same second (a trigger and a buffered one) share a workflow id
 * and only the run id tells them apart.
 */
interface ScheduledRun {
  workflowId: string;
  runId: string;
}

const runKey = (r: ScheduledRun): string => `${r.workflowId}\u0000${r.runId}`;

/** The runs the schedule has started or is running. */
function knownRuns(description: ScheduleDescription): ScheduledRun[] {
  return [
    ...description.info.recentActions.map((a) => a.action.workflow),
    ...description.info.runningActions.map((a) => a.workflow),
  ].map((w) => ({ workflowId: w.workflowId, runId: w.firstExecutionRunId }));
}

/** Wait for the run a trigger started: the first run the schedule did not know before. */
async function awaitTriggeredRun(
  handle: ScheduleHandle,
  before: ScheduleDescription,
): Promise<ScheduledRun | { skipped: true }> {
  const known = new Set(knownRuns(before).map(runKey));
  // A skipped trigger shows in the skip count; should a server not count manual triggers there,
  // a skip policy with a run still going and no new run after a while means the same.
  const mayBeSkipped =
    before.policies.overlap === ScheduleOverlapPolicy.SKIP && before.info.runningActions.length > 0;
  const giveUpAt = Date.now() + 20_000;
  for (;;) {
    const now = await handle.describe();
    const fresh = knownRuns(now).find((r) => !known.has(runKey(r)));
    if (fresh) return fresh;
    if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap) return { skipped: true };
    if (mayBeSkipped && Date.now() > giveUpAt) return { skipped: true };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Trigger no sooner than the second after the schedule's latest run was due,
 * and not in the second its next run is due: a run in the same second as
 * another gets that run's workflow id, and with it its sweep id, so its
 * sweep would find the other's trials already recorded and run none of its own.
 */
async function waitForAFreshSecond(before: ScheduleDescription): Promise<void> {
  const wait = triggerDelay(
    Date.now(),
    before.info.recentActions.map((a) => a.scheduledAt.getTime()),
    before.info.nextActionTimes.map((t) => t.getTime()),
  );
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

/** A margin for the difference between this machine's clock and the server's. */
const CLOCK_MARGIN_MS = 250;

/**
 * Milliseconds to wait before a trigger at `now` so that it is due in a second of its own: after
 * the second of every recent run, and outside the second of every run coming due (to the margin).
 */
export function triggerDelay(now: number, recent: readonly number[], upcoming: readonly number[]): number {
  const secondOf = (t: number) => Math.floor(t / 1000) * 1000;
  const secondAfter = (t: number) => secondOf(t) + 1000 + CLOCK_MARGIN_MS;
  let at = Math.max(now, ...recent.map(secondAfter));
  // A run coming due in the second `at` may fall in (to the margin) would share it: go past it.
  for (const due of [...upcoming].sort((a, b) => a - b)) {
    const second = secondOf(due);
    if (at + CLOCK_MARGIN_MS >= second && at - CLOCK_MARGIN_MS < second + 1000) at = secondAfter(due);
  }
  return Math.max(0, at - now);
}

function verdictLines(workflowId: string, v: RegressionVerdict): string[] {
  return [
    `run ${workflowId}: ${v.verdict} (sweep ${v.sweepId}, baseline ${v.baselineSweepId ?? 'none'})`,
    ...v.reasons.map((r) => `  - ${r}`),
    ...(v.reportFile ? [`report: ${v.reportFile}`] : []),
  ];
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('recurring regression sweeps on Temporal Schedules: create, list, trigger, pause, delete');

  schedule
    .command('create <name> <spec>')
    .description('run <spec> on a schedule and compare each run with its baseline')
    .option('--cron <expr>', 'when to run, as a cron expression (UTC), e.g. "0 3 * * *"')
    .option('--every <duration>', 'when to run, as an interval, e.g. 6h or 1d')
    .option('--baseline <ref>', 'compare with: a sweep id, last-pass (default) or none')
    .option('--overlap <policy>', 'a run due while one is running: skip (default) or buffer', 'skip')
    .option('--webhook <url>', 'POST a notification here when a run regressed or its sweep failed')
    .option('--slack', 'send the notification as a Slack message ({text, blocks})')
    .option('--paused', 'create the schedule paused')
    .option('--json', 'machine-readable output')
    .action(
      async (
        name: string,
        file: string,
        opts: {
          cron?: string;
          every?: string;
          baseline?: string;
          overlap: string;
          webhook?: string;
          slack?: boolean;
          paused?: boolean;
          json?: boolean;
        },
      ) => {
        checkName(name);
        if (!(opts.overlap in OVERLAP))
          throw new CliError(`--overlap '${opts.overlap}': expected skip or buffer`, EXIT_USAGE);
        const overlap = opts.overlap as OverlapName;
        const when = scheduleSpecFrom(opts);
        const notify = notifyFrom(opts);
        const baseline = baselineFrom(opts.baseline ?? undefined);
        const spec = await loadSpec(file);
        const input: RegressionInput = {
          scheduleName: name,
          spec,
          baseline: opts.baseline === undefined ? (spec.regression?.baseline ?? baseline) : baseline,
          ...(notify ? { notify } : {}),
        };
        const memo: ScheduleMemo = {
          specName: spec.name,
          specFile: path.resolve(file),
          ...(opts.cron ? { cron: opts.cron } : {}),
          ...(opts.every ? { every: opts.every } : {}),
          baseline: input.baseline!,
          overlap,
          ...(notify ? { webhook: `${notify.url} (${notify.format})` } : {}),
        };
        const logger = createLogger(!!opts.json);
        await withClient(logger, async (client) => {
          try {
            await client.schedule.create({
              scheduleId: name,
              spec: when,
              action: {
                type: 'startWorkflow',
                workflowType: 'regressionWorkflow',
                workflowId: scheduleWorkflowIdPrefix(name),
                taskQueue: CONTROL_TASK_QUEUE,
                args: [input],
              },
              policies: { overlap: OVERLAP[overlap] },
              state: { paused: !!opts.paused, ...(opts.paused ? { note: 'created paused' } : {}) },
              memo: memo as unknown as Record<string, unknown>,
            });
          } catch (err) {
            if (err instanceof ScheduleAlreadyRunning)
              throw new CliError(`schedule ${name} already exists; delete it or use schedule update`);
            const message = (err as Error).message ?? String(err);
            if (/invalid|cron/i.test(message)) throw new CliError(`schedule ${name}: ${message}`, EXIT_USAGE);
            throw err;
          }
        });
        if (opts.json) printJson({ name, ...memo });
        else
          process.stdout.write(
            `created schedule ${name}: ${spec.name} ${opts.cron ? `cron "${opts.cron}"` : `every ${opts.every}`}, baseline ${memo.baseline}, overlap ${overlap}\n`,
          );
      },
    );

  schedule
    .command('update <name> <spec>')
    .description("replace a schedule's spec (timing, baseline and webhook stay)")
    .action(async (name: string, file: string) => {
      checkName(name);
      const spec = await loadSpec(file);
      await withClient(createLogger(false), async (client) => {
        const handle = client.schedule.getHandle(name);
        await handle.update((previous) => {
          const input: RegressionInput = { ...inputOf(previous), spec };
          return {
            ...previous,
            action: { ...previous.action, args: [input] },
          } as unknown as Parameters<Parameters<ScheduleHandle['update']>[0]>[0];
        });
      });
      process.stdout.write(`updated schedule ${name}: spec ${spec.name}\n`);
    });

  schedule
    .command('list')
    .description('every schedule: its spec, timing, whether paused, next and last run')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withClient(createLogger(!!opts.json), async (client) => {
        const out = [];
        for await (const s of client.schedule.list()) {
          const memo = memoOf(s);
          out.push({
            name: s.scheduleId,
            specName: memo.specName ?? null,
            when: memo.cron ? `cron ${memo.cron}` : memo.every ? `every ${memo.every}` : null,
            paused: s.state.paused,
            nextRun: s.info.nextActionTimes[0]?.toISOString() ?? null,
            lastRun: s.info.recentActions.at(-1)?.action.workflow.workflowId ?? null,
          });
        }
        return out.sort((a, b) => (a.name < b.name ? -1 : 1));
      });
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no schedules\n');
      for (const r of rows)
        process.stdout.write(
          `${r.name}  ${r.specName ?? '?'}  ${r.when ?? '?'}${r.paused ? '  (paused)' : ''}  next ${r.nextRun ?? '-'}  last ${r.lastRun ?? '-'}\n`,
        );
    });

  schedule
    .command('describe <name>')
    .description('a schedule in full: timing, policy, baseline, webhook, recent runs and their verdicts')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      const logger = createLogger(!!opts.json);
      const d = await withClient(logger, (client) => client.schedule.getHandle(name).describe());
      // The store (and the Temporal worker it brings) is loaded only by the commands that read it.
      const { openResultsStore } = await import('../local-workers.js');
      const store = await openResultsStore(logger);
      try {
        const input = inputOf(d);
        const memo = memoOf(d);
        const runs = await Promise.all(
          d.info.recentActions.map(async (a) => {
            const workflowId = a.action.workflow.workflowId;
            const sweepId = regressionSweepId(workflowId);
            const stored = await store.getRegression(sweepId);
            const running = d.info.runningActions.some((r) => r.workflow.workflowId === workflowId);
            return {
              workflowId,
              sweepId,
              takenAt: a.takenAt.toISOString(),
              verdict: stored?.verdict ?? (running ? 'running' : null),
            };
          }),
        );
        const summary = {
          name,
          specName: input?.spec?.name ?? memo.specName ?? null,
          specFile: memo.specFile ?? null,
          when: memo.cron ? `cron ${memo.cron}` : memo.every ? `every ${memo.every}` : null,
          overlap: overlapName(d.policies.overlap),
          paused: d.state.paused,
          note: d.state.note ?? null,
          baseline: input?.baseline ?? 'last-pass',
          webhook: input?.notify ? `${input.notify.url} (${input.notify.format})` : null,
          nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
          actionsTaken: d.info.numActionsTaken,
          skippedOverlap: d.info.numActionsSkippedOverlap,
          runs,
        };
        if (opts.json) return printJson(summary);
        const lines = [
          `schedule ${name}${summary.paused ? ' (paused)' : ''}: spec ${summary.specName ?? '?'}${summary.specFile ? ` (${summary.specFile})` : ''}`,
          `when: ${summary.when ?? '?'}; overlap: ${summary.overlap}; baseline: ${summary.baseline}`,
          `webhook: ${summary.webhook ?? 'none'}`,
          `next: ${summary.nextRuns.join(', ') || '-'}`,
          `runs: ${summary.actionsTaken} taken, ${summary.skippedOverlap} skipped for overlap`,
          ...runs.map((r) => `  ${r.takenAt}  ${r.sweepId}  ${r.verdict ?? '-'}`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await store.close();
      }
    });

  schedule
    .command('trigger <name>')
    .description(
      `run a schedule now (its overlap policy applies); with --wait, exit ${EXIT_REGRESSED} when the run regressed, ${EXIT_FAILED} when its sweep failed`,
    )
    .option('--wait', 'wait for the run and print its verdict')
    .option('--fail-on-inconclusive', `with --wait, exit ${EXIT_INCONCLUSIVE} when the run was inconclusive`)
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { wait?: boolean; failOnInconclusive?: boolean; json?: boolean }) => {
      const logger = createLogger(!!opts.json);
      await withClient(logger, async (client) => {
        const handle = client.schedule.getHandle(name);
        const before = await handle.describe();
        await waitForAFreshSecond(before);
        // A trigger uses ALLOW_ALL unless told otherwise: pass the schedule's own policy.
        await handle.trigger(before.policies.overlap);
        if (!opts.wait) {
          if (opts.json) printJson({ name, triggered: true });
          else process.stdout.write(`triggered schedule ${name}\n`);
          return;
        }
        const run = await awaitTriggeredRun(handle, before);
        if ('skipped' in run) {
          if (opts.json) printJson({ name, skipped: true });
          throw new CliError(
            `schedule ${name}: the run was skipped — another run is still going and the overlap policy is skip`,
            EXIT_SKIPPED,
          );
        }
        let verdict: RegressionVerdict;
        try {
          verdict = (await client.workflow
            .getHandle(run.workflowId, run.runId)
            .result()) as RegressionVerdict;
        } catch (err) {
          if (!(err instanceof WorkflowFailedError)) throw err;
          throw new CliError(`run ${run.workflowId} failed: ${err.cause?.message ?? err.message}`);
        }
        if (opts.json) printJson({ workflowId: run.workflowId, ...verdict });
        else process.stdout.write(`${verdictLines(run.workflowId, verdict).join('\n')}\n`);
        if (verdict.verdict === 'regressed') process.exitCode = EXIT_REGRESSED;
        else if (verdict.verdict === 'failed') process.exitCode = EXIT_FAILED;
        else if (verdict.verdict === 'inconclusive' && opts.failOnInconclusive)
          process.exitCode = EXIT_INCONCLUSIVE;
      });
    });

  for (const [command, description] of [
    ['pause', 'stop starting runs until unpaused'],
    ['unpause', 'start runs again'],
    ['delete', 'delete the schedule (runs already started finish; stored verdicts stay)'],
  ] as const) {
    schedule
      .command(`${command} <name>`)
      .description(description)
      .option('--note <text>', 'why (pause and unpause)')
      .action(async (name: string, opts: { note?: string }) => {
        await withClient(createLogger(false), async (client) => {
          const handle = client.schedule.getHandle(name);
          if (command === 'pause') await handle.pause(opts.note ?? 'paused with grokmap schedule pause');
          else if (command === 'unpause')
            await handle.unpause(opts.note ?? 'unpaused with grokmap schedule unpause');
          else await handle.delete();
        });
        process.stdout.write(`${command === 'delete' ? 'deleted' : `${command}d`} schedule ${name}\n`);
      });
  }
}
