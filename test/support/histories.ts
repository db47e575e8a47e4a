import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { REPO_ROOT } from './harness.js';

export const HISTORIES_DIR = path.join(REPO_ROOT, 'test', 'histories');

/**
 * Save a finished workflow's history for the replay tests, when
 * GROKMAP_RECORD_HISTORIES=1. Committed histories are what CI replays with
 * the current workflow code, so a non-deterministic change fails a test.
 */
export async function maybeRecordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.GROKMAP_RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  mkdirSync(HISTORIES_DIR, { recursive: true });
  // historyToJSON writes the proto3 JSON form (timestamps, enums) that replay reads back.
  const json = JSON.parse(historyToJSON(history)) as unknown;
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), JSON.stringify({ workflowId, history: json }));
}
