import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { TrialProcessPool } from './pool.js';
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
