import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type AnyTrainer,
  CurveRecorder,
  type DeviceAssignment,
  defineTrainer,
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
  return defineTrainer({
    name: config.name,
    version: config.version ?? '0.0.0',
    description:
      config.description ?? `external program ${config.program} (grokmap protocol v${PROTOCOL_VERSION})`,
    params: config.paramsSchema ?? defaultParamsSchema,
    train: (params, ctx) => new CommandRun(config, params, ctx).run(),
  });
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

/** One trial: one program process, its stdout protocol, its checkpoints. */
class CommandRun {
  private readonly log: Logger;
  private readonly graceMs: number;
  private recorder: CurveRecorder;
  private result: ResultMessage | undefined;
  /** First protocol violation; the run ends as `error` with this reason. */
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
    private readonly params: unknown,
    private readonly ctx: TrainerContext,
  ) {
    this.log = ctx.logger.child({ trainer: config.name, trialId: ctx.trialId });
    this.graceMs = config.graceMs ?? DEFAULT_GRACE_MS;
    this.recorder = new CurveRecorder(ctx.threshold);
  }

  async run(): Promise<TrialOutcome> {
    if (this.ctx.signal.aborted) return this.finish({ cancelled: true, exit: null });
    const workDir = await mkdtemp(join(this.config.workDir ?? tmpdir(), 'grokmap-cmd-'));
    try {
      this.checkpointDir = join(workDir, 'checkpoints');
      await mkdir(this.checkpointDir);
      let resume: ParamsFile['resume'] = null;
      const stored = await this.ctx.checkpoint.restore();
      if (stored) {
        try {
          const unpacked = await unpackCheckpoint(stored.data, this.checkpointDir);
          resume = { step: unpacked.step, path: unpacked.path };
          this.recorder = CurveRecorder.fromJSON(this.ctx.threshold, unpacked.curve);
          this.log.info({ step: unpacked.step }, 'resuming from stored checkpoint');
        } catch (err) {
          if (!(err instanceof CheckpointArchiveError)) throw err;
          this.hostError = `cannot restore checkpoint: ${err.message}`;
          return this.finish({ cancelled: false, exit: null });
        }
      }
      const paramsFile: ParamsFile = {
        protocol: PROTOCOL_VERSION,
        trial_id: this.ctx.trialId,
        attempt: this.ctx.attempt,
        params: this.params,
        threshold: this.ctx.threshold,
        checkpoint_dir: this.checkpointDir,
        resume,
        device: this.ctx.device,
      };
      const paramsPath = join(workDir, 'params.json');
      const paramsJson = JSON.stringify(paramsFile);
      await writeFile(paramsPath, paramsJson);
      const exit = await this.spawnAndWait(paramsPath, paramsJson, resume);
      return this.finish({ cancelled: this.ctx.signal.aborted, exit });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  private environment(paramsPath: string, resume: ParamsFile['resume']): NodeJS.ProcessEnv {
    const device = this.ctx.device;
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
      GROKMAP_TRIAL_ID: this.ctx.trialId,
      GROKMAP_ATTEMPT: String(this.ctx.attempt),
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
        this.log.info('trial cancelled; stopping the program');
        this.terminate();
      };
      this.ctx.signal.addEventListener('abort', onAbort, { once: true });
      const limit = this.config.timeoutMs;
      const wallTimer =
        limit === undefined
          ? undefined
          : setTimeout(() => {
              this.timedOut = true;
              this.log.warn({ timeoutMs: limit }, 'trial ran past its time limit; stopping the program');
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
        this.ctx.signal.removeEventListener('abort', onAbort);
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
      if (!this.protocolError && !this.ctx.signal.aborted)
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
    if (message.trial_id !== undefined && message.trial_id !== this.ctx.trialId) {
      return this.fail(
        `stdout line ${lineNumber} is for trial ${JSON.stringify(message.trial_id)}, not this one: ${quoteLine(line)}`,
      );
    }
    switch (message.type) {
      case 'progress': {
        this.ctx.report(progressToReport(message));
        if (message.train_acc !== undefined && message.val_acc !== undefined) {
          const r = progressToReport(message);
          this.recorder.record({ ...r, trainAcc: message.train_acc, valAcc: message.val_acc });
        }
        return;
      }
      case 'log': {
        this.log[message.level]({ from: 'program' }, message.msg);
        return;
      }
      case 'checkpoint': {
        let data: Uint8Array;
        try {
          data = await packCheckpoint({
            checkpointDir: this.checkpointDir,
            path: message.path,
            step: message.step,
            curve: this.recorder.toJSON(),
            maxBytes: this.config.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES,
          });
        } catch (err) {
          if (!(err instanceof CheckpointArchiveError)) throw err;
          return this.fail(`stdout line ${lineNumber}: ${err.message}`);
        }
        try {
          await this.ctx.checkpoint.save(message.step, data);
        } catch (err) {
          this.hostError = `storing the checkpoint at step ${message.step} failed: ${(err as Error).message}`;
          this.log.error({ err }, 'checkpoint store failed; stopping the program');
          this.terminate();
        }
        return;
      }
      case 'result': {
        if (this.result) return this.fail(`stdout line ${lineNumber} is a second result: ${quoteLine(line)}`);
        this.result = message;
        return;
      }
    }
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.filter((l) => l.trim() !== '');
    return tail.length ? `; stderr (last ${tail.length} lines):\n${tail.join('\n')}` : '; no stderr output';
  }

  private finish(end: {
    cancelled: boolean;
    exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  }): TrialOutcome {
    const maxSteps =
      this.result?.max_steps ?? maxStepsOf(this.params) ?? Math.max(1, this.recorder.lastPoint?.step ?? 1);
    const recorded = (status: TrialOutcome['status'], reason?: string): TrialOutcome =>
      this.recorder.outcome({ status, maxSteps, ...(reason !== undefined ? { reason } : {}) });
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
    if (this.result) {
      const merged = outcomeFromResult(this.result, recorded(this.result.status), this.ctx.threshold);
      const checked = trialOutcomeSchema.safeParse(merged);
      if (!checked.success) {
        const problems = checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        return recorded('error', `protocol error: result is not a valid outcome (${problems})`);
      }
      return checked.data;
    }
    if (this.recorder.lastPoint) {
      this.log.warn('program sent no result line; outcome built from its progress lines');
      return recorded('completed');
    }
    return recorded(
      'error',
      `program exited with code 0 without a result or any progress${this.stderrSuffix()}`,
    );
  }
}
