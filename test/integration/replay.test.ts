import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { WORKFLOWS_PATH } from '@grokmap/workers';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { HISTORIES_DIR } from '../support/histories.js';

/**
 * Determinism guard: replay the recorded histories of real runs of every
 * workflow type with the current workflow code. A change that makes a
 * workflow take a different path on replay fails here, before it breaks
 * running sweeps in production.
 */
const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));

describe('replay of recorded workflow histories', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays with the current workflow code', async (file) => {
    const { workflowId, history } = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as {
      workflowId: string;
      history: unknown;
    };
    await Worker.runReplayHistory(
      { workflowsPath: WORKFLOWS_PATH, replayName: file },
      history as never,
      workflowId,
    );
  });
});
