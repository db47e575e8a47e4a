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
});
