import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FINAL_TRIAL_STATUSES, type ResultsStore, type TrialRecord } from '@grokmap/workers';
import type { RunTrialInput, RunTrialPackInput } from '@grokmap/workflows';
import { type Client, defaultPayloadConverter } from '@temporalio/client';
import { REPO_ROOT } from '../support/harness.js';

/**
 * The store checked against the workflow: the trials the workflow started
 * (its `runTrial` and `runTrialPack` activities, read from its history) must each have exactly
 * one final record, none left `running`, no record the workflow never
 * started, and no curve point written twice.
 */
export interface SweepAudit {
  /** Trial ids the workflow scheduled, in order. */
  started: string[];
  records: TrialRecord[];
  /** Started trials without a final record (missing, or left `running`). */
  lost: string[];
  /** Trials recorded twice, recorded without being started, or with a curve step written twice. */
  duplicated: string[];
}

/** The trainer activities a sweep scheduled, in order, with the trials each carried (one, or a pack). */
export async function scheduledTrialActivities(
  client: Client,
  sweepId: string,
): Promise<{ type: 'runTrial' | 'runTrialPack'; trialIds: string[] }[]> {
  const history = await client.workflow.getHandle(sweepId).fetchHistory();
  const scheduled: { type: 'runTrial' | 'runTrialPack'; trialIds: string[] }[] = [];
  for (const event of history.events ?? []) {
    const attributes = event.activityTaskScheduledEventAttributes;
    const type = attributes?.activityType?.name;
    if (type !== 'runTrial' && type !== 'runTrialPack') continue;
    const payload = attributes?.input?.payloads?.[0];
    if (!payload) throw new Error(`${type} scheduled without input in ${sweepId}`);
    const trialIds =
      type === 'runTrial'
        ? [defaultPayloadConverter.fromPayload<RunTrialInput>(payload).trial.trialId]
        : defaultPayloadConverter.fromPayload<RunTrialPackInput>(payload).trials.map((t) => t.trialId);
    scheduled.push({ type, trialIds });
  }
  return scheduled;
}

/**
 * The attempt on which each activity of this type in the sweep's history ended (the history
 * keeps only an activity's last attempt): above 1 where a retry took over from a lost attempt.
 */
export async function activityAttempts(client: Client, sweepId: string, type: string): Promise<number[]> {
  const history = await client.workflow.getHandle(sweepId).fetchHistory();
  const scheduled = new Set<string>();
  const attempts: number[] = [];
  for (const event of history.events ?? []) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === type)
      scheduled.add(String(event.eventId));
    const started = event.activityTaskStartedEventAttributes;
    if (started && scheduled.has(String(started.scheduledEventId))) attempts.push(started.attempt ?? 1);
  }
  return attempts;
}

export async function auditSweep(client: Client, store: ResultsStore, sweepId: string): Promise<SweepAudit> {
  const started = (await scheduledTrialActivities(client, sweepId)).flatMap((a) => a.trialIds);
  const records = await store.listTrials(sweepId);
  const byId = new Map<string, TrialRecord[]>();
  for (const r of records) byId.set(r.trialId, [...(byId.get(r.trialId) ?? []), r]);
  const lost = started.filter((id) => {
    const rs = byId.get(id) ?? [];
    return rs.length === 0 || rs.some((r) => !FINAL_TRIAL_STATUSES.includes(r.status));
  });
  const duplicated = new Set<string>();
  for (const id of started) if (started.indexOf(id) !== started.lastIndexOf(id)) duplicated.add(id);
  for (const [id, rs] of byId) {
    if (rs.length > 1 || !started.includes(id)) duplicated.add(id);
  }
  const indexes = records.map((r) => r.index);
  for (const r of records)
    if (indexes.indexOf(r.index) !== indexes.lastIndexOf(r.index)) duplicated.add(r.trialId);
  for (const r of records) {
    const steps = (await store.getCurves(r.trialId)).map((c) => c.step);
    if (new Set(steps).size !== steps.length) duplicated.add(r.trialId);
  }
  return { started, records, lost: [...new Set(lost)], duplicated: [...duplicated] };
}

export interface ScenarioRow {
  scenario: string;
  injected: string;
  survived: boolean;
  lost: number;
  duplicated: number;
  note?: string;
}

export function renderTable(rows: ScenarioRow[]): string {
  const lines = [
    '| scenario | injected | survived | trials lost | trials duplicated | note |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.injected} | ${r.survived ? 'yes' : 'NO'} | ${r.lost} | ${r.duplicated} | ${(r.note ?? '').replaceAll('|', '\\|')} |`,
    ),
  ];
  return lines.join('\n');
}

export function writeTable(rows: ScenarioRow[]): string {
  const table = renderTable(rows);
  const dir = path.join(REPO_ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'faults.md');
  writeFileSync(
    file,
    `# Fault injection (pnpm test:faults)\n\nReal Temporal dev server, real worker processes, SQLite store. Each scenario injects one fault during a running sweep, then checks the store against the workflow's history: every started trial has exactly one final record and none is left running.\n\n${table}\n`,
  );
  return table;
}
