import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { diedOutOfMemory, TrialProcessPool } from './pool.js';
import type { RunTrialJob } from './protocol.js';

const logger = pino({ level: 'silent' });
const noCallbacks = { onProgress: () => undefined, onCheckpoint: () => undefined };

function job(
  trialId: string,
  params: Record<string, unknown>,
  extra: Partial<RunTrialJob> = {},
): RunTrialJob {
  return {
    trialId,
    trainer: 'synthetic',
    params,
    threshold: 0.99,
    attempt: 1,
    checkpointDir: mkdtempSync(path.join(os.tmpdir(), 'grokmap-pool-')),
    device: { kind: 'cpu' },
    ...extra,
  };
}

describe('TrialProcessPool', () => {
  it("kills a trial silent past its job's stall timeout, then still closes cleanly", async () => {
    // The worker-wide default is long; the job's own limit (the spec's heartbeat timeout) wins.
    const pool = new TrialProcessPool({ size: 1, logger, stallTimeoutMs: 10 * 60_000 });
    try {
      const hung = await pool.run(
        job(
          'hang',
          { fail: 'hang', fail_at_step: 200, max_steps: 1000, eval_every: 100 },
          { stallTimeoutMs: 1_000 },
        ),
        noCallbacks,
        new AbortController().signal,
      );
      expect(hung).toMatchObject({ kind: 'crashed', hung: true, outOfMemory: false });
      expect(hung.kind === 'crashed' && hung.message).toMatch(/^no progress for 1 s/);
    } finally {
      // The slot's child was SIGKILLed (exitCode null, signalCode set): close() must not touch its IPC channel.
      await expect(pool.close()).resolves.toBeUndefined();
    }
  });

  it('names the signal of a trial whose process segfaults, and runs the next trial in a fresh one', async () => {
    const pool = new TrialProcessPool({ size: 1, logger });
    try {
      const crashed = await pool.run(
        job('segv', { fail: 'segfault', fail_at_step: 200, max_steps: 1000, eval_every: 100 }),
        noCallbacks,
        new AbortController().signal,
      );
      expect(crashed).toMatchObject({ kind: 'crashed', hung: false, outOfMemory: false });
      expect(crashed.kind === 'crashed' && crashed.message).toMatch(
        /^trial process killed by signal SIGSEGV \(segmentation fault\)/,
      );
      const next = await pool.run(
        job('after-segv', { max_steps: 500, eval_every: 100 }),
        noCallbacks,
        new AbortController().signal,
      );
      expect(next.kind === 'outcome' && next.outcome.status).toBe('completed');
    } finally {
      await pool.close();
    }
  });

  it("keeps an earlier trial's stderr out of a later crash in the same reused process", async () => {
    const pool = new TrialProcessPool({ size: 1, logger });
    try {
      // The failure hooks log a warning (to the process's stderr) naming the trial; 'nan' ends the
      // trial normally (diverged), so the process is reused for the next one.
      const earlier = await pool.run(
        job('earlier-trial', { fail: 'nan', fail_at_step: 200, max_steps: 1000, eval_every: 100 }),
        noCallbacks,
        new AbortController().signal,
      );
      expect(earlier.kind === 'outcome' && earlier.outcome.status).toBe('diverged');
      const crashed = await pool.run(
        job('later-trial', { fail: 'segfault', fail_at_step: 200, max_steps: 1000, eval_every: 100 }),
        noCallbacks,
        new AbortController().signal,
      );
      expect(crashed.kind).toBe('crashed');
      const message = crashed.kind === 'crashed' ? crashed.message : '';
      expect(message).toContain('later-trial');
      expect(message).not.toContain('earlier-trial');
    } finally {
      await pool.close();
    }
  });

  it('calls a trial whose V8 heap runs out (an abort, its message before a long native stack) out of memory', async () => {
    const pool = new TrialProcessPool({ size: 1, logger, memoryLimitMb: 256 });
    try {
      const crashed = await pool.run(
        job('oom', { fail: 'oom', fail_at_step: 200, max_steps: 1000, eval_every: 100 }),
        noCallbacks,
        new AbortController().signal,
      );
      expect(crashed).toMatchObject({ kind: 'crashed', hung: false, outOfMemory: true });
      expect(crashed.kind === 'crashed' && crashed.message).toMatch(/^out of memory/);
    } finally {
      await pool.close();
    }
  });

  it('runs the next trial in a fresh process after a kill', async () => {
    const pool = new TrialProcessPool({ size: 1, logger });
    try {
      const first = await pool.run(
        job(
          'hang-2',
          { fail: 'hang', fail_at_step: 200, max_steps: 1000, eval_every: 100 },
          { stallTimeoutMs: 1_000 },
        ),
        noCallbacks,
        new AbortController().signal,
      );
      expect(first.kind).toBe('crashed');
      const second = await pool.run(
        job('ok', { max_steps: 500, eval_every: 100 }),
        noCallbacks,
        new AbortController().signal,
      );
      expect(second.kind === 'outcome' && second.outcome.status).toBe('completed');
    } finally {
      await pool.close();
    }
  });

  it('runs a pack in one process: one result per trial, equal to the same trials run alone', async () => {
    const pool = new TrialProcessPool({ size: 1, logger });
    const params = [
      { weight_decay: 0.1, data_fraction: 0.3, max_steps: 3000, eval_every: 100 },
      { weight_decay: 1, data_fraction: 0.7, max_steps: 3000, eval_every: 100 },
      { weight_decay: 1, data_fraction: 0.7, max_steps: 3000, eval_every: 100, model_size: 256 },
    ];
    const progressed = new Set<number>();
    try {
      const packed = await pool.runPack(
        params.map((p, i) => job(`pack-${i}`, p)),
        params.map((_, i) => ({ onProgress: () => progressed.add(i), onCheckpoint: () => undefined })),
        new AbortController().signal,
      );
      const alone = [];
      for (const [i, p] of params.entries())
        alone.push(await pool.run(job(`alone-${i}`, p), noCallbacks, new AbortController().signal));
      expect(packed.map((r) => r.kind)).toEqual(['outcome', 'outcome', 'outcome']);
      expect(packed.map((r) => r.kind === 'outcome' && r.outcome.final)).toEqual(
        alone.map((r) => r.kind === 'outcome' && r.outcome.final),
      );
      expect([...progressed].sort()).toEqual([0, 1, 2]);
    } finally {
      await pool.close();
    }
  });

  it("keeps a pack's bad trial to itself, and ends every unfinished trial of a pack whose process dies", async () => {
    const pool = new TrialProcessPool({ size: 1, logger });
    try {
      const mixed = await pool.runPack(
        [job('good', { max_steps: 500, eval_every: 100 }), job('bad', { max_steps: -1 })],
        [noCallbacks, noCallbacks],
        new AbortController().signal,
      );
      expect(mixed[0]!.kind === 'outcome' && mixed[0]!.outcome.status).toBe('completed');
      expect(mixed[1]).toMatchObject({ kind: 'invalid-params' });
      expect(mixed[1]!.kind === 'invalid-params' && mixed[1]!.message).toMatch(/max_steps/);

      const hung = await pool.runPack(
        [
          job(
            'hangs',
            { fail: 'hang', fail_at_step: 200, max_steps: 1000, eval_every: 100 },
            { stallTimeoutMs: 1_000 },
          ),
          job('mate', { max_steps: 100000, eval_every: 100, step_delay_ms: 1 }, { stallTimeoutMs: 1_000 }),
        ],
        [noCallbacks, noCallbacks],
        new AbortController().signal,
      );
      expect(hung.map((r) => r.kind)).toEqual(['crashed', 'crashed']);
    } finally {
      await pool.close();
    }
  });
});

describe('diedOutOfMemory', () => {
  // The shape of V8's report at its heap limit: the verdict line, then a long native stack.
  const v8Report = [
    '<--- Last few GCs --->',
    '[2306:0x1f64afc0]      383 ms: Mark-Compact (reduce) 254.5 (263.2) -> 254.4 (256.2) MB',
    '<--- JS stacktrace --->',
    'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
    '----- Native stack trace -----',
    ...Array.from(
      { length: 20 },
      (_, i) => ` ${i + 1}: 0x${(0xb78db3 + i).toString(16)} v8::internal::Frame [node]`,
    ),
  ];
  const base = { signal: 'SIGABRT' as const, peakRssMb: 40, memoryLimitMb: 512 };

  it("finds V8's heap-OOM line above a long native stack, though the memory was never sampled near the limit", () => {
    expect(diedOutOfMemory({ ...base, stderr: v8Report })).toBe(true);
  });

  it('counts an abort near the memory limit with nothing on stderr', () => {
    expect(diedOutOfMemory({ ...base, peakRssMb: 300, stderr: [] })).toBe(true);
  });

  it('does not call other crashes out of memory', () => {
    expect(diedOutOfMemory({ ...base, stderr: ['Assertion failed: x > 0'] })).toBe(false);
    expect(diedOutOfMemory({ ...base, signal: 'SIGSEGV', peakRssMb: 500, stderr: [] })).toBe(false);
    expect(diedOutOfMemory({ ...base, memoryLimitMb: undefined, peakRssMb: 500, stderr: [] })).toBe(false);
  });
});
