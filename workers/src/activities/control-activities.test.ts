import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordTrialFailureInput } from '@grokmap/workflows';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite-store.js';
import { createControlActivities, TEST_PAUSE_ENV, TEST_PAUSE_LOG } from './control-activities.js';

/** A logger that keeps its lines, to see whether the test-only pause announced itself. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

const failure = (trialId: string): RecordTrialFailureInput => ({
  sweepId: 'sweep-a',
  trial: { trialId, index: 0, params: { weight_decay: 1 } },
  status: 'error',
  attempts: 1,
  reason: 'TrialProcessCrashed: trial process killed by signal SIGSEGV (segmentation fault)',
});

describe('control activities: the test-only pause (GROKMAP_TEST_PAUSE_IN)', () => {
  const home = mkdtempSync(join(tmpdir(), 'grokmap-control-'));
  const store = openSqliteStore({ path: join(home, 'grokmap.db') });

  beforeAll(async () => {
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
  });

  it('does nothing when unset', async () => {
    const { logger, lines } = capturingLogger();
    const activities = createControlActivities({ store, logger }, {});
    const started = Date.now();
    expect(await activities.recordTrialFailure(failure('t-unset'))).toEqual({ recorded: true });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lines.join('')).not.toContain(TEST_PAUSE_LOG);
  });

  it('pauses the named activity after its write committed, and announces it', async () => {
    const { logger, lines } = capturingLogger();
    const env = { [TEST_PAUSE_ENV]: 'suggestTrials, recordTrialFailure', GROKMAP_TEST_PAUSE_MS: '400' };
    const activities = createControlActivities({ store, logger }, env);
    const started = Date.now();
    const running = activities.recordTrialFailure(failure('t-paused'));
    // While it sleeps, the failure is already in the store: a kill now tests the retried write.
    await expect
      .poll(() => lines.some((l) => l.includes(`${TEST_PAUSE_LOG} recordTrialFailure`)), { timeout: 2_000 })
      .toBe(true);
    expect((await store.getTrial('t-paused'))?.status).toBe('error');
    expect(await running).toEqual({ recorded: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    // The retry after a kill is a no-op: one record.
    expect(await activities.recordTrialFailure(failure('t-paused'))).toEqual({ recorded: false });
    expect((await store.listTrials('sweep-a')).filter((t) => t.trialId === 't-paused')).toHaveLength(1);
  });
});
