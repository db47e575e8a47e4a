import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DeviceAssignment, ProgressReport } from '@grokmap/plugin-sdk';
import type { Logger } from 'pino';
import {
  type ChildMessage,
  type ParentMessage,
  RUN_STARTS_MARKER,
  type RunTrialJob,
  type TrialRunResult,
} from './protocol.js';

export type { TrialRunResult } from './protocol.js';

/**
 * A pool of child processes, each running one trial at a time and reused
 * across trials. Isolation without paying process start-up per trial: a
 * crash, an out-of-memory kill or a hang fails only the trial it ran, and
 * the process is replaced.
 */
export interface TrialCallbacks {
  onProgress(report: ProgressReport): void;
  onCheckpoint(uri: string, step: number): void;
}

export interface PoolOptions {
  size: number;
  logger: Logger;
  /** Kill a trial's process above this resident memory (MiB). */
  memoryLimitMb?: number;
  /** Kill a trial that reports no progress for this long (ms), unless its job sets its own. */
  stallTimeoutMs?: number;
  /** Environment per slot (e.g. CUDA_VISIBLE_DEVICES for slot i). */
  envForSlot?: (slot: number) => NodeJS.ProcessEnv;
  /** The device each slot's trials are given (one trial per GPU). */
  deviceForSlot?: (slot: number) => DeviceAssignment;
}

interface Slot {
  index: number;
  child?: ChildProcess;
  busy: boolean;
  /** The last lines of the process's stderr since start-up, then since the current run began. */
  stderrTail: string[];
}

/** Time a trial gets before its first progress report, however short its stall timeout. */
const START_UP_GRACE_MS = 60_000;
/** Lines of a trial process's stderr kept: enough for V8's heap-OOM report and its native stack. */
const STDERR_LINES_KEPT = 80;

/**
 * Whether a trial process that died on its own ran out of memory. V8 aborts
 * (SIGABRT) at the heap limit; it prints its "heap out of memory" line
 * before a native stack trace of a dozen lines or more, so all the kept
 * stderr is searched, not its last lines. Its message may also never reach
 * stderr: an abort near the memory limit counts too.
 */
export function diedOutOfMemory(o: {
  signal: NodeJS.Signals | null;
  peakRssMb: number;
  memoryLimitMb: number | undefined;
  stderr: readonly string[];
}): boolean {
  const abortedNearLimit =
    o.signal === 'SIGABRT' && !!o.memoryLimitMb && o.peakRssMb >= 0.5 * o.memoryLimitMb;
  return abortedNearLimit || /heap out of memory|Allocation failed|ENOMEM/i.test(o.stderr.join('\n'));
}

/** A stalled trial whose resident memory is at least this share of the limit is out of memory, not hung. */
const NEAR_MEMORY_LIMIT = 0.8;
const CHILD_ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

export class TrialProcessPool {
  private readonly slots: Slot[];
  private readonly waiters: ((slot: Slot) => void)[] = [];
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    this.slots = Array.from({ length: options.size }, (_, index) => ({ index, busy: false, stderrTail: [] }));
  }

  /** Run one trial in a free child process; waits for a slot when all are busy. */
  async run(job: RunTrialJob, callbacks: TrialCallbacks, signal: AbortSignal): Promise<TrialRunResult> {
    const [result] = await this.runPack([job], [callbacks], signal);
    return result!;
  }

  /**
   * Run the trials of a pack in one child process (one slot, one device):
   * one result per trial, in order. A crash or kill of the process ends
   * every trial of the pack that had not finished.
   */
  async runPack(
    jobs: readonly RunTrialJob[],
    callbacks: readonly TrialCallbacks[],
    signal: AbortSignal,
  ): Promise<TrialRunResult[]> {
    const slot = await this.acquire();
    try {
      const child = await this.ensureChild(slot);
      return await this.runIn(slot, child, jobs, callbacks, signal);
    } finally {
      slot.busy = false;
      this.release(slot);
    }
  }

  private acquire(): Promise<Slot> {
    if (this.closed) return Promise.reject(new Error('trial process pool is closed'));
    const free = this.slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiters.shift();
    if (next) {
      slot.busy = true;
      next(slot);
    }
  }

  private ensureChild(slot: Slot): Promise<ChildProcess> {
    if (slot.child && slot.child.exitCode === null && slot.child.connected)
      return Promise.resolve(slot.child);
    const heapMb = this.options.memoryLimitMb
      ? Math.max(256, Math.floor(this.options.memoryLimitMb * 0.9))
      : undefined;
    const child = fork(CHILD_ENTRY, [], {
      execArgv: ['--import', TSX_LOADER, ...(heapMb ? [`--max-old-space-size=${heapMb}`] : [])],
      env: { ...process.env, ...this.options.envForSlot?.(slot.index) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    slot.stderrTail = [];
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      // The marker is written alone on its line, in one write: dropping it and its newline leaves the rest as sent.
      process.stderr.write(
        text.includes(RUN_STARTS_MARKER) ? text.split(`${RUN_STARTS_MARKER}\n`).join('') : chunk,
      );
      for (const line of text.split('\n')) {
        // A new run: what came before it on the pipe belongs to earlier trials.
        if (line === RUN_STARTS_MARKER) slot.stderrTail = [];
        else if (line) keepStderr(slot, line);
      }
    });
    slot.child = child;
    return new Promise((resolve, reject) => {
      const onMessage = (m: ChildMessage) => {
        if (m.type === 'ready') {
          child.off('exit', onExit);
          child.off('message', onMessage);
          resolve(child);
        }
      };
      const onExit = (code: number | null) =>
        reject(
          new Error(
            `trial process exited during start-up (code ${code}): ${slot.stderrTail.slice(-5).join(' | ')}`,
          ),
        );
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  private runIn(
    slot: Slot,
    child: ChildProcess,
    jobs: readonly RunTrialJob[],
    callbacks: readonly TrialCallbacks[],
    signal: AbortSignal,
  ): Promise<TrialRunResult[]> {
    // The process is reused: a crash message must carry only this run's stderr, not lines written
    // by earlier trials (or by start-up, which ensureChild already reported on if it failed).
    slot.stderrTail = [];
    const stallMs = jobs[0]?.stallTimeoutMs ?? this.options.stallTimeoutMs;
    const results: (TrialRunResult | undefined)[] = jobs.map(() => undefined);
    let pending = jobs.length;
    return new Promise<TrialRunResult[]>((resolve) => {
      let lastProgress = Date.now();
      // Until its first report a trial may still be loading its plugin (slow on a busy machine).
      let reported = false;
      let killedFor: 'hang' | 'memory' | undefined;
      let graceKill: NodeJS.Timeout | undefined;
      const finish = (crash?: TrialRunResult) => {
        clearInterval(watchdog);
        // The process outlives this trial (it is reused): its grace-period kill must not hit the next one.
        clearTimeout(graceKill);
        signal.removeEventListener('abort', onAbort);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(results.map((r) => r ?? crash!));
      };
      const onMessage = (m: ChildMessage) => {
        switch (m.type) {
          case 'progress':
            lastProgress = Date.now();
            reported = true;
            callbacks[m.index]?.onProgress(m.report);
            break;
          case 'checkpoint':
            lastProgress = Date.now();
            reported = true;
            callbacks[m.index]?.onCheckpoint(m.uri, m.step);
            break;
          case 'result':
            // A pack's later trials start when this one ends: that counts as progress.
            lastProgress = Date.now();
            if (results[m.index] === undefined) pending--;
            results[m.index] = m.result;
            if (pending === 0) finish();
            break;
        }
      };
      // stderr can still be arriving when 'exit' fires (a V8 heap-OOM message, say): wait for the
      // streams to close, but not past a short deadline in case something else holds them open.
      let exitTimer: NodeJS.Timeout | undefined;
      const onExit = (code: number | null, sig: NodeJS.Signals | null) => {
        if (exitTimer) return;
        exitTimer = setTimeout(() => onClosed(code, sig), 2_000);
        child.once('close', () => onClosed(code, sig));
      };
      let closed = false;
      let peakRss = 0;
      const onClosed = (code: number | null, sig: NodeJS.Signals | null) => {
        if (closed) return;
        closed = true;
        clearTimeout(exitTimer);
        const tail = slot.stderrTail.slice(-8).join('\n');
        const outOfMemory =
          killedFor === 'memory' ||
          diedOutOfMemory({
            signal: sig,
            peakRssMb: peakRss,
            memoryLimitMb: this.options.memoryLimitMb,
            stderr: slot.stderrTail,
          });
        const why =
          killedFor === 'hang'
            ? `no progress for ${Math.round((stallMs ?? 0) / 1000)} s; process killed`
            : killedFor === 'memory'
              ? `out of memory: resident memory reached the limit of ${this.options.memoryLimitMb} MiB; process killed`
              : outOfMemory
                ? 'out of memory'
                : processEnd(code, sig);
        finish({
          kind: 'crashed',
          message: tail ? `${why}; stderr: ${tail.slice(-1500)}` : why,
          hung: killedFor === 'hang',
          outOfMemory,
        });
      };
      const onAbort = () => {
        const reason = String(signal.reason ?? 'aborted');
        this.send(child, { type: 'abort', reason });
        // A trainer that ignores its abort signal is killed after a grace period.
        graceKill = setTimeout(() => {
          if (child.exitCode === null && slot.child === child) child.kill('SIGKILL');
        }, 15_000).unref();
      };
      const watchdog = setInterval(() => {
        if (killedFor) return;
        const limit = this.options.memoryLimitMb;
        const rss = limit && child.pid ? residentMb(child.pid) : 0;
        peakRss = Math.max(peakRss, rss);
        const stall = stallMs && (reported ? stallMs : Math.max(stallMs, START_UP_GRACE_MS));
        if (limit && rss > limit) {
          killedFor = 'memory';
          child.kill('SIGKILL');
        } else if (stall && Date.now() - lastProgress > stall) {
          // A process stuck near its memory limit is thrashing in the garbage collector, not hung:
          // call it out of memory, so it is retried and reported as such.
          killedFor = limit && rss >= NEAR_MEMORY_LIMIT * limit ? 'memory' : 'hang';
          child.kill('SIGKILL');
        }
      }, 500);
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      const device = (job: RunTrialJob) => this.options.deviceForSlot?.(slot.index) ?? job.device;
      this.send(child, { type: 'run', jobs: jobs.map((job) => ({ ...job, device: device(job) })) });
    });
  }

  private send(child: ChildProcess, message: ParentMessage): void {
    if (child.connected) child.send(message);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        const child = slot.child;
        // A child killed by a signal (stall or memory watchdog) has exitCode null but signalCode set.
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        if (child.connected) child.disconnect();
        else child.kill('SIGKILL');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** What signals that end a trial's process mean, for its failure reason. */
const SIGNAL_MEANING: Partial<Record<NodeJS.Signals, string>> = {
  SIGSEGV: 'segmentation fault',
  SIGBUS: 'bus error',
  SIGILL: 'illegal instruction',
  SIGFPE: 'arithmetic exception',
  SIGABRT: 'aborted',
};

/** How a trial's process ended when no watchdog killed it: the signal by name and meaning, or the exit code. */
export function processEnd(code: number | null, sig: NodeJS.Signals | null): string {
  if (!sig) return `trial process exited with code ${code}`;
  const meaning = SIGNAL_MEANING[sig];
  return `trial process killed by signal ${sig}${meaning ? ` (${meaning})` : ''}`;
}

/** Resident set size of a process in MiB (Linux /proc); 0 where unknown. */
export function residentMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Keep the last STDERR_LINES_KEPT lines of a slot's stderr. */
function keepStderr(slot: Slot, line: string): void {
  slot.stderrTail.push(line);
  if (slot.stderrTail.length > STDERR_LINES_KEPT)
    slot.stderrTail.splice(0, slot.stderrTail.length - STDERR_LINES_KEPT);
}
