import { type TrialOutcome, trialOutcomeSchema } from './outcome.js';
import { createTestContext } from './test-context.js';
import type { AnyTrainer, Checkpoint, ProgressReport, TrialParams } from './trainer.js';

/**
 * The conformance kit: checks that a trainer plugin keeps the contract a
 * worker relies on (DESIGN.md "Trainer plugins"). It runs the trainer for
 * real in an in-memory test context, so any test runner can call it:
 *
 *   await expectConformance(myTrainer, { params: { max_steps: 200 } });
 *
 * Pick parameters for a short, healthy run: the kit trains twice (once to
 * the end, once aborted after the first progress report).
 */

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ConformanceReport {
  ok: boolean;
  checks: ConformanceCheck[];
}

export interface ConformanceOptions {
  /** Parameters of a short, healthy run, as a sweep spec would give them (before the plugin's schema). */
  params: TrialParams;
  /** Threshold θ the context passes to the trainer; 0.99 by default. */
  threshold?: number;
  /** Longest a run may take to finish, and to stop once aborted; 30 s by default. */
  timeoutMs?: number;
  /** Extra parameter sets the schema must refuse (an unknown key is always tried). */
  invalidParams?: TrialParams[];
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** A key no plugin declares: a strict schema refuses it, so a typo in a spec is an error. */
const UNKNOWN_KEY = '__conformance_unknown_key__';

export const CONFORMANCE_CHECKS = [
  'definition',
  'params accepted',
  'train resolves',
  'outcome valid',
  'outcome consistent',
  'progress reported',
  'honours abort',
  'resumes from checkpoint',
  'rejects wrong params',
] as const;

/** Run every conformance check against `trainer` and report each one; never throws for a failing trainer. */
export async function runConformance(
  trainer: AnyTrainer,
  options: ConformanceOptions,
): Promise<ConformanceReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const checks: ConformanceCheck[] = [];
  const add = (name: (typeof CONFORMANCE_CHECKS)[number], ok: boolean, detail: string) =>
    checks.push({ name, ok, detail });

  add('definition', ...checkDefinition(trainer));

  const parsed = trainer.params.safeParse(options.params);
  add(
    'params accepted',
    parsed.success,
    parsed.success
      ? 'the plugin schema accepts the parameters'
      : `schema refused: ${issuesText(parsed.error)}`,
  );
  add('rejects wrong params', ...checkRejects(trainer, options));

  if (!parsed.success) {
    for (const name of [
      'train resolves',
      'outcome valid',
      'outcome consistent',
      'progress reported',
      'honours abort',
      'resumes from checkpoint',
    ] as const) {
      add(name, false, 'not run: the parameters were refused');
    }
    return finish(checks);
  }

  // A full run.
  const ctx = createTestContext({ trialId: 'conformance-run', threshold: options.threshold });
  const run = await raceTimeout(
    settle(() => trainer.train(parsed.data, ctx)),
    timeoutMs,
  );
  if (run === TIMED_OUT) ctx.abort('conformance timeout');
  if (run !== TIMED_OUT && run.kind === 'value') {
    add('train resolves', true, `resolved with status ${describeStatus(run.value)}`);
    const valid = trialOutcomeSchema.safeParse(run.value);
    add(
      'outcome valid',
      valid.success,
      valid.success
        ? 'matches trialOutcomeSchema'
        : `does not match trialOutcomeSchema: ${issuesText(valid.error)}`,
    );
    add(
      'outcome consistent',
      ...(valid.success ? checkConsistent(valid.data) : ([false, 'not checked: outcome invalid'] as const)),
    );
  } else {
    const detail =
      run === TIMED_OUT ? `did not finish within ${timeoutMs} ms` : `threw: ${errorText(run.error)}`;
    add('train resolves', false, detail);
    add('outcome valid', false, 'no outcome');
    add('outcome consistent', false, 'no outcome');
  }
  add('progress reported', ...checkProgress(ctx.reports));

  add('honours abort', ...(await checkAbort(trainer, parsed.data, options.threshold, timeoutMs)));
  const full = run !== TIMED_OUT && run.kind === 'value' ? run.value : undefined;
  add(
    'resumes from checkpoint',
    ...(await checkResume(trainer, parsed.data, ctx.saved, full, options, timeoutMs)),
  );
  return finish(checks);
}

/** Run the checks and throw one error listing every failure; resolves with the report when all pass. */
export async function expectConformance(
  trainer: AnyTrainer,
  options: ConformanceOptions,
): Promise<ConformanceReport> {
  const report = await runConformance(trainer, options);
  if (!report.ok) {
    const failures = report.checks.filter((c) => !c.ok).map((c) => `  - ${c.name}: ${c.detail}`);
    throw new Error(
      `trainer "${String(trainer?.name)}" fails ${failures.length} conformance check(s):\n${failures.join('\n')}`,
    );
  }
  return report;
}

function finish(checks: ConformanceCheck[]): ConformanceReport {
  return { ok: checks.every((c) => c.ok), checks };
}

type Verdict = readonly [ok: boolean, detail: string];

function checkDefinition(trainer: AnyTrainer): Verdict {
  const problems: string[] = [];
  if (typeof trainer?.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(trainer.name)) {
    problems.push('name must be lower-case letters, digits and -');
  }
  if (typeof trainer?.version !== 'string' || trainer.version === '')
    problems.push('version must be a non-empty string');
  if (typeof trainer?.params?.safeParse !== 'function') problems.push('params must be a zod schema');
  if (typeof trainer?.train !== 'function') problems.push('train must be a function');
  return problems.length === 0 ? [true, `${trainer.name}@${trainer.version}`] : [false, problems.join('; ')];
}

function checkRejects(trainer: AnyTrainer, options: ConformanceOptions): Verdict {
  const base = options.params ?? {};
  const candidates: { what: string; value: unknown }[] = [
    { what: `an unknown key '${UNKNOWN_KEY}'`, value: { ...base, [UNKNOWN_KEY]: 1 } },
    ...(options.invalidParams ?? []).map((value, i) => ({ what: `invalidParams[${i}]`, value })),
  ];
  const accepted = candidates.filter((c) => trainer.params.safeParse(c.value).success).map((c) => c.what);
  return accepted.length === 0
    ? [true, `refused ${candidates.map((c) => c.what).join(', ')}`]
    : [false, `schema accepted ${accepted.join(', ')} (use a strict schema so typos in a spec are errors)`];
}

function checkConsistent(o: TrialOutcome): Verdict {
  const problems: string[] = [];
  if (o.steps > o.maxSteps) problems.push(`steps ${o.steps} exceed maxSteps ${o.maxSteps}`);
  for (const which of ['train', 'val'] as const) {
    const first = o.firstStepAtThreshold[which];
    if (first !== null && first > o.steps)
      problems.push(`firstStepAtThreshold.${which} ${first} is after steps ${o.steps}`);
  }
  for (let i = 1; i < o.curves.length; i++) {
    if (o.curves[i]!.step < o.curves[i - 1]!.step) {
      problems.push(`curve steps decrease at index ${i}`);
      break;
    }
  }
  if (o.status !== 'completed') problems.push(`a healthy run ended ${describeStatus(o)}`);
  return problems.length === 0
    ? [true, `${o.steps} steps, ${o.curves.length} curve points`]
    : [false, problems.join('; ')];
}

function checkProgress(reports: readonly ProgressReport[]): Verdict {
  if (reports.length === 0) return [false, 'no progress report (call ctx.report at each evaluation)'];
  for (let i = 0; i < reports.length; i++) {
    const r = reports[i]!;
    if (!Number.isInteger(r.step) || r.step < 0)
      return [false, `report ${i} has step ${r.step}, not a step count`];
    if (i > 0 && r.step < reports[i - 1]!.step) {
      return [false, `steps decrease: report ${i} has step ${r.step} after ${reports[i - 1]!.step}`];
    }
    for (const key of ['trainAcc', 'valAcc'] as const) {
      const v = r[key];
      if (v !== undefined && !(v >= 0 && v <= 1))
        return [false, `report ${i} has ${key} ${v} outside [0, 1]`];
    }
  }
  return [true, `${reports.length} reports, steps ${reports[0]!.step}..${reports[reports.length - 1]!.step}`];
}

async function checkAbort(
  trainer: AnyTrainer,
  params: unknown,
  threshold: number | undefined,
  timeoutMs: number,
): Promise<Verdict> {
  let abortedAt: number | undefined;
  let signalAborted: () => void = () => {};
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    signalAborted = () => resolve(ABORTED);
  });
  const ctx = createTestContext({
    trialId: 'conformance-abort',
    threshold,
    onReport(report, c) {
      if (abortedAt !== undefined) return;
      abortedAt = report.step;
      c.abort('conformance: abort after the first progress report');
      signalAborted();
    },
  });
  const run = settle(() => trainer.train(params, ctx));
  // Until the first report the run gets `timeoutMs`; once aborted, it gets `timeoutMs` again to stop.
  const first = await raceTimeout(Promise.race([run, aborted]), timeoutMs);
  if (first === TIMED_OUT) {
    ctx.abort('conformance timeout');
    return [false, `neither reported progress nor finished within ${timeoutMs} ms`];
  }
  const result = first === ABORTED ? await raceTimeout(run, timeoutMs) : first;
  if (result === TIMED_OUT)
    return [false, `still running ${timeoutMs} ms after abort (check ctx.signal between steps)`];
  if (result.kind === 'error') {
    return [false, `threw instead of returning status 'cancelled': ${errorText(result.error)}`];
  }
  if (abortedAt === undefined)
    return [false, 'finished without a progress report, so abort could not be tested'];
  const outcome = result.value;
  return outcome?.status === 'cancelled'
    ? [true, `aborted after the report at step ${abortedAt}; stopped at step ${outcome.steps}`]
    : [
        false,
        `aborted after the report at step ${abortedAt} but resolved with status ${describeStatus(outcome)}`,
      ];
}

/**
 * A trainer that saved checkpoints must resume from one: a second attempt
 * given the first checkpoint completes, reports only steps after it, and
 * reaches the same final step count. Not applicable (passes) when the run
 * saved no checkpoint.
 */
async function checkResume(
  trainer: AnyTrainer,
  params: unknown,
  saved: readonly Checkpoint[],
  full: TrialOutcome | undefined,
  options: ConformanceOptions,
  timeoutMs: number,
): Promise<Verdict> {
  const checkpoint = saved[0];
  if (checkpoint === undefined) return [true, 'not applicable: the run saved no checkpoint'];
  const ctx = createTestContext({
    trialId: 'conformance-run',
    attempt: 2,
    threshold: options.threshold,
    initialCheckpoint: checkpoint,
  });
  const result = await raceTimeout(
    settle(() => trainer.train(params, ctx)),
    timeoutMs,
  );
  if (result === TIMED_OUT) {
    ctx.abort('conformance timeout');
    return [false, `a run resumed from step ${checkpoint.step} did not finish within ${timeoutMs} ms`];
  }
  if (result.kind === 'error') {
    return [false, `a run resumed from step ${checkpoint.step} threw: ${errorText(result.error)}`];
  }
  const firstStep = ctx.reports[0]?.step;
  if (firstStep !== undefined && firstStep <= checkpoint.step) {
    return [false, `resumed from step ${checkpoint.step} but reported step ${firstStep} again (restarted?)`];
  }
  const outcome = result.value;
  if (outcome?.status !== 'completed') {
    return [false, `a run resumed from step ${checkpoint.step} ended ${describeStatus(outcome)}`];
  }
  if (full !== undefined && outcome.steps !== full.steps) {
    return [false, `a resumed run ended at step ${outcome.steps}, the uninterrupted run at ${full.steps}`];
  }
  return [true, `resumed from step ${checkpoint.step}, first report at step ${firstStep ?? '(none)'}`];
}

const TIMED_OUT = Symbol('timed out');
const ABORTED = Symbol('aborted');

function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type Settled<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown };

/** Call `fn` (which may throw synchronously or reject) and turn its result into data. */
function settle<T>(fn: () => Promise<T>): Promise<Settled<T>> {
  return Promise.resolve()
    .then(fn)
    .then(
      (value): Settled<T> => ({ kind: 'value', value }),
      (error: unknown): Settled<T> => ({ kind: 'error', error }),
    );
}

function describeStatus(o: TrialOutcome | undefined): string {
  if (o === undefined || o === null || typeof o !== 'object') return `(no outcome: ${String(o)})`;
  return o.reason ? `'${o.status}' (${o.reason})` : `'${o.status}'`;
}

function issuesText(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
