import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type AnyTrainer,
  type Checkpoint,
  CurveRecorder,
  type DeviceAssignment,
  defineTrainer,
  type PackContext,
  type PackedTrial,
  type PackingSupport,
  splitIntoPacks,
  type TrainerContext,
  type TrialOutcome,
  trialOutcomeSchema,
} from '@grokmap/plugin-sdk';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CheckpointArchiveError, packCheckpoint, unpackCheckpoint } from './checkpoint-archive.js';
import {
  type Message,
  outcomeFromResult,
  type ParamsFile,
  PROTOCOL_VERSION,
  parseLine,
  progressToReport,
  quoteLine,
  type ResultMessage,
} from './protocol.js';

/**
 * How to run one external trainer program. This comes only from the
 * worker's own configuration (see `loadCommandTrainers`): a sweep spec names
 * the trainer and gives parameters, and parameters reach the program only as
 * data (a JSON file and stdin), never as its command line or environment.
 */
export interface CommandTrainerConfig {
  /** Registry name a sweep spec's `trainer:` refers to. */
  name: string;
  version?: string;
  description?: string;
  /** Executable: a path, or a name looked up on PATH. Relative paths resolve from `cwd`. */
  program: string;
  args?: string[];
  /** Added to the environment the program sees. */
  env?: Record<string, string>;
  /** Start the program with the worker's environment (then `env`, then the GROKMAP_* variables). Default true. */
  inheritEnv?: boolean;
  cwd?: string;
  /** Validates a trial's parameters before a sweep starts. Default: any JSON object, passed through. */
  paramsSchema?: z.ZodType;
  /** Time between SIGTERM and SIGKILL when a trial is cancelled or breaks the protocol. Default 10 s. */
  graceMs?: number;
  /**
   * Wall-clock limit of one attempt: past it the program is stopped (SIGTERM, then SIGKILL)
   * and the trial ends `timed_out` with its curve so far. Default: none.
   */
  timeoutMs?: number;
  /** Where per-trial working directories go. Default: the OS temp dir. */
  workDir?: string;
  /** Largest checkpoint the host will store. Default 1 GiB. */
  maxCheckpointBytes?: number;
  /**
   * The program takes packs of trials (protocol extension `pack`): up to
   * `maxTrials` trials whose `shapeKeys` parameters are equal run in one
   * process. Default: one trial per process.
   */
  pack?: PackingSupport;
}

export const DEFAULT_GRACE_MS = 10_000;
export const DEFAULT_MAX_CHECKPOINT_BYTES = 1024 ** 3;
/** Longest stdout line accepted (a result with a full curve fits easily). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;
export const STDERR_TAIL_LINES = 20;
const MAX_STDERR_LINE_CHARS = 500;

export const defaultParamsSchema = z.record(z.string(), z.unknown());

/** Build a trainer that runs `config.program` for each trial, speaking protocol v1. */
export function createCommandTrainer(config: CommandTrainerConfig): AnyTrainer {
  const packing = config.pack;
  return defineTrainer({
    name: config.name,
    version: config.version ?? '0.0.0',
    description:
      config.description ?? `external program ${config.program} (grokmap protocol v${PROTOCOL_VERSION})`,
    params: config.paramsSchema ?? defaultParamsSchema,
    train: async (params, ctx) => {
      const { attempt, threshold, signal, logger, device } = ctx;
      const scope: RunScope = { id: ctx.trialId, attempt, threshold, signal, logger, device, packed: false };
      const trial = { params, ctx, ...(await restoreStored(ctx)) };
      const [outcome] = await new CommandRun(config, [trial], scope).run();
      return outcome!;
    },
    ...(packing ? { packing, trainPack: (trials, pack) => trainPack(config, packing, trials, pack) } : {}),
  });
}

/**
 * Train a pack in as few processes as the protocol allows. The program may
 * refuse trials that resume from different steps (PROTOCOL.md), so trials
 * are grouped by the step of their stored checkpoint as well as by shape,
 * and the groups run one after another: a pack retried after a partial
 * failure still resumes every trial from its own checkpoint.
 */
async function trainPack(
  config: CommandTrainerConfig,
  packing: PackingSupport,
  trials: PackedTrial<unknown>[],
  pack: PackContext,
): Promise<TrialOutcome[]> {
  const restored = await Promise.all(trials.map(async (t) => ({ ...t, ...(await restoreStored(t.ctx)) })));
  const groups = splitIntoPacks(
    restored,
    (t) => ({
      // Trials whose checkpoint could not be had go together, in a run that starts no program.
      resume: t.restoreError !== undefined ? 'unrestored' : (t.stored?.step ?? null),
      shape: packing.shapeKeys.map((k) => (t.params as Record<string, unknown>)[k] ?? null),
    }),
    { maxTrials: packing.maxTrials, shapeKeys: ['resume', 'shape'] },
  );
  const resumable = restored.filter((t) => t.restoreError === undefined);
  if (new Set(resumable.map((t) => t.stored?.step ?? null)).size > 1) {
    pack.logger.info(
      { trainer: config.name, processes: groups.length },
      'trials of the pack resume from different steps; each step gets its own process',
    );
  }
  const outcomes: TrialOutcome[] = new Array(trials.length);
  for (const group of groups) {
    const members = group.map((i) => restored[i]!);
    const first = members[0]!.ctx.trialId;
    const scope: RunScope = {
      ...pack,
      id: members.length > 1 ? `pack:${first}+${members.length - 1}` : `pack:${first}`,
      attempt: Math.max(...members.map((m) => m.ctx.attempt)),
      packed: true,
    };
    const results = await new CommandRun(config, members, scope).run();
    group.forEach((i, k) => {
      outcomes[i] = results[k]!;
    });
  }
  return outcomes;
}

/** A trial's stored checkpoint, as the program gets it, or why the store could not give it. */
interface Restored {
  stored: Checkpoint | undefined;
  /** Set when the checkpoint store threw: the trial ends as `error` with this reason. */
  restoreError?: string;
}

/**
 * Ask a trial's checkpoint store for its latest checkpoint. The store may be
 * a third party's and may throw: that fails this trial only, never the pack
 * it shares a process with (the trainPack contract: each trial its own outcome).
 */
async function restoreStored(ctx: TrainerContext): Promise<Restored> {
  try {
    return { stored: await ctx.checkpoint.restore() };
  } catch (err) {
    ctx.logger.error({ err }, 'checkpoint store failed to restore; the trial fails');
    const why = err instanceof Error ? err.message : String(err);
    return {
      stored: undefined,
      restoreError: `restoring the checkpoint of trial ${JSON.stringify(ctx.trialId)} failed: ${why}`,
    };
  }
}

/** The numeric step budget in a trial's parameters, if it declares one. */
function maxStepsOf(params: unknown): number | undefined {
  if (params && typeof params === 'object') {
    const p = params as Record<string, unknown>;
    for (const key of ['max_steps', 'maxSteps']) {
      const v = p[key];
      if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
    }
  }
  return undefined;
}

/**
 * CUDA_VISIBLE_DEVICES for a trial's program. A GPU index counts among the
 * GPUs the worker itself may use: when the worker runs with
 * CUDA_VISIBLE_DEVICES=4,6, GPU index 1 is physical device 6.
 */
export function visibleDevicesFor(device: DeviceAssignment, workerVisible: string | undefined): string {
  if (device.kind !== 'gpu') return '';
  const index = device.index ?? 0;
  const visible = (workerVisible ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  return visible[index] ?? String(index);
}

/** What the trials of one process share. A single trial's run is a pack of one without `trials`. */
interface RunScope {
  /** GROKMAP_TRIAL_ID and the params file's `trial_id`: the trial's id, or a name for the pack. */
  id: string;
  attempt: number;
  threshold: number;
  signal: AbortSignal;
  logger: Logger;
  device: DeviceAssignment;
  /** The params file lists `trials` (extension `pack`) and every trial's lines carry its trial_id. */
  packed: boolean;
}

/** One trial of a run: what it was given, what the program said about it. */
interface RunTrial {
  params: unknown;
  ctx: TrainerContext;
  /** Its latest checkpoint from an earlier attempt. */
  stored: Checkpoint | undefined;
  log: Logger;
  recorder: CurveRecorder;
  resume: ParamsFile['resume'];
  result: ResultMessage | undefined;
  /** The trial failed before its program started (its checkpoint could not be had or unpacked). */
  error: string | undefined;
}

/** One program process: its trials, its stdout protocol, their checkpoints. */
class CommandRun {
  private readonly log: Logger;
  private readonly graceMs: number;
  private readonly trials: RunTrial[];
  private readonly byId = new Map<string, RunTrial>();
  /** First protocol violation; the run's unfinished trials end as `error` with this reason. */
  private protocolError: string | undefined;
  /** A failure of the host's side (checkpoint store, spawn). */
  private hostError: string | undefined;
  private readonly stderrTail: string[] = [];
  private child: ChildProcess | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private killedHard = false;
  private timedOut = false;
  private checkpointDir = '';

  constructor(
    private readonly config: CommandTrainerConfig,
    trials: ({ params: unknown; ctx: TrainerContext } & Restored)[],
    private readonly scope: RunScope,
  ) {
    this.log = scope.logger.child(
      scope.packed
        ? { trainer: config.name, pack: scope.id, trials: trials.length }
        : { trainer: config.name, trialId: scope.id },
    );
    this.graceMs = config.graceMs ?? DEFAULT_GRACE_MS;
    this.trials = trials.map(({ restoreError, ...t }) => ({
      ...t,
      log: scope.packed ? t.ctx.logger.child({ trainer: config.name, trialId: t.ctx.trialId }) : this.log,
      recorder: new CurveRecorder(t.ctx.threshold),
      resume: null,
      result: undefined,
      error: restoreError,
    }));
    for (const t of this.trials) this.byId.set(t.ctx.trialId, t);
  }

  async run(): Promise<TrialOutcome[]> {
    if (this.scope.signal.aborted) return this.finish({ cancelled: true, exit: null });
    const workDir = await mkdtemp(join(this.config.workDir ?? tmpdir(), 'grokmap-cmd-'));
    try {
      this.checkpointDir = join(workDir, 'checkpoints');
      await mkdir(this.checkpointDir);
      for (const [i, trial] of this.trials.entries()) await this.restore(trial, i);
      const live = this.trials.filter((t) => t.error === undefined);
      if (live.length === 0) return this.finish({ cancelled: false, exit: null });
      const first = this.trials[0]!;
      const paramsFile: ParamsFile = {
        protocol: PROTOCOL_VERSION,
        trial_id: this.scope.id,
        attempt: this.scope.attempt,
        params: this.scope.packed ? {} : first.params,
        threshold: this.scope.threshold,
        checkpoint_dir: this.checkpointDir,
        resume: this.scope.packed ? null : first.resume,
        device: this.scope.device,
        ...(this.scope.packed
          ? {
              trials: live.map((t) => ({
                trial_id: t.ctx.trialId,
                attempt: t.ctx.attempt,
                params: t.params,
                resume: t.resume,
              })),
            }
          : {}),
      };
      const paramsPath = join(workDir, 'params.json');
      const paramsJson = JSON.stringify(paramsFile);
      await writeFile(paramsPath, paramsJson);
      const exit = await this.spawnAndWait(paramsPath, paramsJson, paramsFile.resume);
      return this.finish({ cancelled: this.scope.signal.aborted, exit });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * Unpack a trial's stored checkpoint for the program. In a pack each
   * trial's goes to a folder of its own: two trials' checkpoints may have
   * the same name (both written by single-trial runs, say).
   */
  private async restore(trial: RunTrial, index: number): Promise<void> {
    if (!trial.stored) return;
    const into = this.scope.packed ? join(this.checkpointDir, `resume-${index}`) : this.checkpointDir;
    try {
      const unpacked = await unpackCheckpoint(trial.stored.data, into);
      trial.resume = { step: unpacked.step, path: unpacked.path };
      trial.recorder = CurveRecorder.fromJSON(trial.ctx.threshold, unpacked.curve);
      trial.log.info({ step: unpacked.step }, 'resuming from stored checkpoint');
    } catch (err) {
      if (!(err instanceof CheckpointArchiveError)) throw err;
      trial.error = `cannot restore checkpoint: ${err.message}`;
    }
  }

  private environment(paramsPath: string, resume: ParamsFile['resume']): NodeJS.ProcessEnv {
    const device = this.scope.device;
    return {
      ...(this.config.inheritEnv === false ? {} : process.env),
      ...this.config.env,
      // Pin the program to its device: one trial per GPU, and CPU trials see no GPU at all.
      CUDA_VISIBLE_DEVICES: visibleDevicesFor(
        device,
        this.config.env?.CUDA_VISIBLE_DEVICES ?? process.env.CUDA_VISIBLE_DEVICES,
      ),
      GROKMAP_PROTOCOL: String(PROTOCOL_VERSION),
      GROKMAP_STDIN_OPEN: '1',
      GROKMAP_PARAMS_FILE: paramsPath,
      GROKMAP_CHECKPOINT_DIR: this.checkpointDir,
      GROKMAP_TRIAL_ID: this.scope.id,
      GROKMAP_ATTEMPT: String(this.scope.attempt),
      GROKMAP_DEVICE: device.kind === 'gpu' ? 'cuda' : 'cpu',
      ...(resume ? { GROKMAP_RESUME_STEP: String(resume.step), GROKMAP_RESUME_PATH: resume.path } : {}),
    };
  }

  /** Run the program to its end; resolves with how it exited (null: it never started). */
  private spawnAndWait(
    paramsPath: string,
    paramsJson: string,
    resume: ParamsFile['resume'],
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
    return new Promise((done) => {
      let child: ChildProcess;
      try {
        // Its own process group, so cancellation reaches whatever the program starts too.
        child = spawn(this.config.program, this.config.args ?? [], {
          cwd: this.config.cwd ? resolve(this.config.cwd) : undefined,
          env: this.environment(paramsPath, resume),
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
        });
      } catch (err) {
        this.hostError = `cannot start ${JSON.stringify(this.config.program)}: ${(err as Error).message}`;
        done(null);
        return;
      }
      this.child = child;
      const onAbort = () => {
        this.log.info('cancelled; stopping the program');
        this.terminate();
      };
      this.scope.signal.addEventListener('abort', onAbort, { once: true });
      const limit = this.config.timeoutMs;
      const wallTimer =
        limit === undefined
          ? undefined
          : setTimeout(() => {
              this.timedOut = true;
              this.log.warn({ timeoutMs: limit }, 'ran past its time limit; stopping the program');
              this.terminate();
            }, limit);

      let spawnFailed = false;
      child.on('error', (err) => {
        if (child.pid === undefined) {
          spawnFailed = true;
          this.hostError = `cannot start ${JSON.stringify(this.config.program)}: ${err.message}`;
        } else {
          this.log.warn({ err }, 'program process error');
        }
      });
      child.stdin?.on('error', () => {
        // A program that does not read its stdin may close it early: not an error.
      });
      // The parameters as one line, then stdin stays open for the life of the trial: EOF tells
      // the program its host is gone (the worker died), so it can stop instead of running on.
      child.stdin?.write(`${paramsJson}\n`);
      this.collectStderr(child);
      const stdoutDone = this.consumeStdout(child);

      let drainTimer: NodeJS.Timeout | undefined;
      child.on('exit', () => {
        // Something the program started may still hold stdout open: give it the grace period.
        drainTimer = setTimeout(() => {
          this.killGroup('SIGKILL');
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, this.graceMs).unref();
      });
      child.on('close', (code, signal) => {
        this.scope.signal.removeEventListener('abort', onAbort);
        child.stdin?.destroy();
        if (this.killTimer) clearTimeout(this.killTimer);
        if (drainTimer) clearTimeout(drainTimer);
        if (wallTimer) clearTimeout(wallTimer);
        // Whatever the program left behind in its process group (a data-loader worker, a
        // forgotten helper) must not outlive the trial, holding a GPU or a core.
        this.killGroup('SIGKILL');
        void stdoutDone.then(() => done(spawnFailed ? null : { code, signal }));
      });
    });
  }

  /** SIGTERM the program's process group now, SIGKILL it after the grace period. */
  private terminate(): void {
    if (this.killTimer || !this.child || this.child.exitCode !== null || this.child.signalCode !== null)
      return;
    this.killGroup('SIGTERM');
    this.killTimer = setTimeout(() => {
      this.killedHard = true;
      this.log.warn({ graceMs: this.graceMs }, 'program ignored SIGTERM; sending SIGKILL');
      this.killGroup('SIGKILL');
    }, this.graceMs);
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }

  private collectStderr(child: ChildProcess): void {
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > MAX_STDERR_LINE_CHARS * 4) {
        lines.push(partial);
        partial = '';
      }
      for (const line of lines) this.keepStderr(line);
    });
    child.stderr?.on('end', () => {
      if (partial) this.keepStderr(partial);
    });
  }

  private keepStderr(raw: string): void {
    const line = raw.replace(/\r$/, '');
    this.log.debug({ stderr: line }, 'program stderr');
    this.stderrTail.push(
      line.length > MAX_STDERR_LINE_CHARS ? `${line.slice(0, MAX_STDERR_LINE_CHARS)}…` : line,
    );
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
  }

  /**
   * Read stdout line by line, handling each message before reading on, so a
   * checkpoint is stored before later lines are looked at. After a protocol
   * error the rest is drained and ignored while the program is stopped.
   */
  private async consumeStdout(child: ChildProcess): Promise<void> {
    const stdout = child.stdout;
    if (!stdout) return;
    // The unfinished line, as the chunks it arrived in (no re-copying per chunk).
    let parts: Buffer[] = [];
    let partBytes = 0;
    let lineNumber = 0;
    try {
      for await (const chunk of stdout as AsyncIterable<Buffer>) {
        let start = 0;
        let newline = chunk.indexOf(0x0a);
        while (newline >= 0) {
          const piece = chunk.subarray(start, newline);
          const line = (parts.length ? Buffer.concat([...parts, piece]) : piece).toString('utf8');
          parts = [];
          partBytes = 0;
          lineNumber += 1;
          await this.handleLineSafely(line, lineNumber);
          start = newline + 1;
          newline = chunk.indexOf(0x0a, start);
        }
        if (start < chunk.byteLength) {
          parts.push(chunk.subarray(start));
          partBytes += chunk.byteLength - start;
          if (partBytes > MAX_LINE_BYTES) {
            const head = Buffer.concat(parts).subarray(0, 400).toString('utf8');
            this.fail(
              `stdout line ${lineNumber + 1} is longer than ${MAX_LINE_BYTES} bytes: ${quoteLine(head)}`,
            );
            parts = [];
            partBytes = 0;
          }
        }
      }
    } catch (err) {
      if (!this.protocolError && !this.scope.signal.aborted)
        this.log.warn({ err }, 'reading program stdout failed');
    }
    if (partBytes) await this.handleLineSafely(Buffer.concat(parts).toString('utf8'), lineNumber + 1);
  }

  /** A failure of the host while handling a line (a throwing report hook) ends the trial, never the host. */
  private async handleLineSafely(line: string, lineNumber: number): Promise<void> {
    try {
      await this.handleLine(line, lineNumber);
    } catch (err) {
      if (this.protocolError || this.hostError) return;
      this.hostError = `host failed while handling stdout line ${lineNumber}: ${(err as Error).message}`;
      this.log.error({ err }, 'handling a program line failed; stopping the program');
      this.terminate();
    }
  }

  private fail(reason: string): void {
    if (this.protocolError || this.hostError) return;
    this.protocolError = reason;
    this.log.warn({ reason }, 'program broke the protocol; stopping it');
    this.terminate();
  }

  private async handleLine(raw: string, lineNumber: number): Promise<void> {
    if (this.protocolError || this.hostError) return;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const parsed = parseLine(line, lineNumber);
    if (!parsed.ok) return this.fail(parsed.error);
    const message: Message = parsed.message;
    const trial = this.trialOf(message, line, lineNumber);
    if (trial === 'refused') return;
    if (trial === undefined) {
      // Only a log may concern the whole pack (trialOf refuses anything else).
      if (message.type === 'log') this.log[message.level]({ from: 'program' }, message.msg);
      return;
    }
    switch (message.type) {
      case 'progress': {
        trial.ctx.report(progressToReport(message));
        if (message.train_acc !== undefined && message.val_acc !== undefined) {
          const r = progressToReport(message);
          trial.recorder.record({ ...r, trainAcc: message.train_acc, valAcc: message.val_acc });
        }
        return;
      }
      case 'log': {
        trial.log[message.level]({ from: 'program' }, message.msg);
        return;
      }
      case 'checkpoint': {
        let data: Uint8Array;
        try {
          data = await packCheckpoint({
            checkpointDir: this.checkpointDir,
            path: message.path,
            step: message.step,
            curve: trial.recorder.toJSON(),
            maxBytes: this.config.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES,
          });
        } catch (err) {
          if (!(err instanceof CheckpointArchiveError)) throw err;
          return this.fail(`stdout line ${lineNumber}: ${err.message}`);
        }
        try {
          await trial.ctx.checkpoint.save(message.step, data);
        } catch (err) {
          const whose = this.scope.packed ? ` of trial ${JSON.stringify(trial.ctx.trialId)}` : '';
          this.hostError = `storing the checkpoint${whose} at step ${message.step} failed: ${(err as Error).message}`;
          this.log.error({ err }, 'checkpoint store failed; stopping the program');
          this.terminate();
        }
        return;
      }
      case 'result': {
        if (trial.result)
          return this.fail(`stdout line ${lineNumber} is a second result: ${quoteLine(line)}`);
        trial.result = message;
        return;
      }
    }
  }

  /**
   * The trial a line concerns: undefined for a pack's own logs, 'refused'
   * when the line breaks the protocol (the run is then failing).
   */
  private trialOf(message: Message, line: string, lineNumber: number): RunTrial | undefined | 'refused' {
    const id = message.trial_id;
    if (!this.scope.packed) {
      if (id === undefined || id === this.scope.id) return this.trials[0]!;
      this.fail(
        `stdout line ${lineNumber} is for trial ${JSON.stringify(id)}, not this one: ${quoteLine(line)}`,
      );
      return 'refused';
    }
    if (id === undefined) {
      if (message.type === 'log') return undefined;
      this.fail(
        `stdout line ${lineNumber} has no trial_id; in a pack every ${message.type} line names its trial: ${quoteLine(line)}`,
      );
      return 'refused';
    }
    const trial = this.byId.get(id);
    if (trial && trial.error === undefined) return trial;
    this.fail(
      `stdout line ${lineNumber} is for trial ${JSON.stringify(id)}, which is not in this pack: ${quoteLine(line)}`,
    );
    return 'refused';
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.filter((l) => l.trim() !== '');
    return tail.length ? `; stderr (last ${tail.length} lines):\n${tail.join('\n')}` : '; no stderr output';
  }

  private finish(end: RunEnd): TrialOutcome[] {
    return this.trials.map((t) => this.outcomeOf(t, end));
  }

  /**
   * A trial's outcome. In a pack, a trial's result line settles it: what
   * befalls the process afterwards (a cancellation, a crash, a bad line)
   * concerns only the trials still running. A single trial keeps the older
   * rule: a cancelled run is `cancelled` even if it managed to finish.
   */
  private outcomeOf(trial: RunTrial, end: RunEnd): TrialOutcome {
    const { result } = trial;
    const maxSteps =
      result?.max_steps ?? maxStepsOf(trial.params) ?? Math.max(1, trial.recorder.lastPoint?.step ?? 1);
    const recorded = (status: TrialOutcome['status'], reason?: string): TrialOutcome =>
      trial.recorder.outcome({ status, maxSteps, ...(reason !== undefined ? { reason } : {}) });
    if (trial.error !== undefined) return recorded('error', trial.error);
    if (result && this.scope.packed) return this.outcomeFromResult(trial, result, recorded);
    const { exit } = end;
    const how =
      exit === null ? '' : exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;

    const hard = this.killedHard ? ` after ignoring SIGTERM for ${this.graceMs} ms` : '';
    if (end.cancelled) {
      if (exit === null) return recorded('cancelled', 'cancelled by the host before the program started');
      return recorded('cancelled', `cancelled by the host; program ${how}${hard}`);
    }
    if (this.timedOut) {
      return recorded(
        'timed_out',
        `ran longer than its limit of ${this.config.timeoutMs} ms; program ${how}${hard}`,
      );
    }
    if (this.hostError) return recorded('error', this.hostError);
    if (this.protocolError) return recorded('error', `protocol error: ${this.protocolError}`);
    if (exit === null) return recorded('error', 'program did not start');
    if (exit.signal !== null || exit.code !== 0) {
      return recorded('error', `program ${how}${this.stderrSuffix()}`);
    }
    if (result) return this.outcomeFromResult(trial, result, recorded);
    if (this.scope.packed) {
      return recorded(
        'error',
        `program exited with code 0 without a result line for trial ${JSON.stringify(trial.ctx.trialId)}${this.stderrSuffix()}`,
      );
    }
    if (trial.recorder.lastPoint) {
      this.log.warn('program sent no result line; outcome built from its progress lines');
      return recorded('completed');
    }
    return recorded(
      'error',
      `program exited with code 0 without a result or any progress${this.stderrSuffix()}`,
    );
  }

  private outcomeFromResult(
    trial: RunTrial,
    result: ResultMessage,
    recorded: (status: TrialOutcome['status'], reason?: string) => TrialOutcome,
  ): TrialOutcome {
    const merged = outcomeFromResult(result, recorded(result.status), trial.ctx.threshold);
    const checked = trialOutcomeSchema.safeParse(merged);
    if (!checked.success) {
      const problems = checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return recorded('error', `protocol error: result is not a valid outcome (${problems})`);
    }
    return checked.data;
  }
}

type RunEnd = {
  cancelled: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
};
