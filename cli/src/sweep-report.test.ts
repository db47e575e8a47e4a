import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPORT_FILES, type ReportTrial } from '@grokmap/analysis';
import type { CurvePoint, TrialOutcome } from '@grokmap/plugin-sdk';
import { openSqliteStore, type SqlResultsStore, type TrialResult } from '@grokmap/workers';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedTrials } from './sweep-client.js';
import { writeSweepReport } from './sweep-report.js';

/**
 * Issue 4, item 4, through the path `grokmap report <id>` takes: a real
 * SQLite results store holding a cancelled sweep with completed, failed and
 * cancelled trials, a completed trial with no curves, one whose curve row is
 * corrupt and one trial row whose stored JSON is corrupt still gives a full
 * report, which says what is missing and why, and the store is only read.
 */

const SWEEP = 'sweep-partial';
const root = mkdtempSync(join(tmpdir(), 'grokmap-sweep-report-'));
const dbPath = join(root, 'results.db');
const outDir = join(root, 'report');
const logger = pino({ level: 'silent' });

function curve(n: number): CurvePoint[] {
  return Array.from({ length: n }, (_, i) => ({
    step: (i + 1) * 100,
    trainAcc: Math.min(1, (i + 1) / 4),
    valAcc: Math.min(1, ((i + 1) / n) ** 2),
    trainLoss: 2 / (i + 1),
  }));
}

const params = (index: number) => ({
  weight_decay: [0.1, 1][index % 2],
  data_fraction: [0.3, 0.6][Math.floor(index / 2) % 2],
  model_size: 128,
  seed: Math.floor(index / 4),
});

function completed(index: number, curves: CurvePoint[]): TrialResult {
  const outcome: TrialOutcome = {
    status: 'completed',
    steps: 1000,
    maxSteps: 1000,
    firstStepAtThreshold: { train: 400, val: 800 },
    final: { trainAcc: 1, valAcc: 0.995 },
    curves,
  };
  return {
    sweepId: SWEEP,
    trialId: `t${index}`,
    index,
    params: params(index),
    attempts: 1,
    outcome,
    phase: index % 2 === 0 ? 'comprehension' : 'memorization',
    tTrain: 400,
    tVal: 800,
    ratio: 2,
    valAtTrain: 0.3,
    semiGrokking: false,
  };
}

function failure(index: number, status: 'error' | 'diverged' | 'cancelled', error: string) {
  return { sweepId: SWEEP, trialId: `t${index}`, index, params: params(index), attempts: 3, status, error };
}

/** Every row of every table, to check the report changed nothing. */
function snapshot(): Record<string, unknown[]> {
  const db = new Database(dbPath, { readonly: true });
  try {
    return Object.fromEntries(
      ['sweeps', 'trials', 'curves'].map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]),
    );
  } finally {
    db.close();
  }
}

describe('writeSweepReport on a partial, partly corrupt SQLite store', () => {
  let store: SqlResultsStore;
  let before: Record<string, unknown[]>;
  let result: { files: string[]; warnings: string[] };
  let trials: ReportTrial[];
  let page: string;

  beforeAll(async () => {
    store = openSqliteStore({ path: dbPath });
    await store.migrate();
    await store.saveSweep({
      sweepId: SWEEP,
      name: 'partial',
      trainer: 'synthetic',
      method: 'grid',
      spec: {
        name: 'partial',
        trainer: 'synthetic',
        method: 'grid',
        parameters: { weight_decay: { values: [0.1, 1] }, data_fraction: { values: [0.3, 0.6] } },
        phase: { threshold: 0.99, delay_steps: 1000 },
      },
      status: 'cancelled',
      plannedTrials: 10,
      createdAt: '2026-11-28T10:00:00.000Z',
      updatedAt: '2026-11-28T11:00:00.000Z',
      verdict: 'cancelled by the user',
    });
    for (const i of [0, 1, 2, 3]) await store.recordTrialResult(completed(i, curve(10)));
    await store.recordTrialFailure(failure(4, 'error', 'Error: CUDA out of memory'));
    await store.recordTrialFailure(failure(5, 'diverged', 'NaN training loss at step 300'));
    await store.recordTrialFailure(failure(6, 'cancelled', 'sweep cancelled before the trial ran'));
    await store.recordTrialResult(completed(7, []));
    await store.recordTrialResult(completed(8, curve(10)));
    await store.recordTrialResult(completed(9, curve(10)));
    // Stored JSON cut short (t8's outcome), and a curve value no accuracy can have (t9's).
    const db = new Database(dbPath);
    db.prepare('UPDATE trials SET outcome = ? WHERE trial_id = ?').run('{"status": "completed", "ste', 't8');
    db.prepare('UPDATE curves SET train_acc = ? WHERE trial_id = ? AND step = ?').run(7, 't9', 300);
    db.close();
    await expect(store.listTrials(SWEEP)).rejects.toThrow(/trial_id=t8/);

    before = snapshot();
    result = await writeSweepReport(store, SWEEP, outDir, logger);
    trials = readFileSync(join(outDir, 'trials.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ReportTrial);
    page = readFileSync(join(outDir, 'report.html'), 'utf8');
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const byId = (id: string) => trials.find((t) => t.trialId === id)!;
  const missing = () => {
    const start = page.indexOf('<section id="missing">');
    expect(start).toBeGreaterThanOrEqual(0);
    return page.slice(start, page.indexOf('</section>', start));
  };

  it('writes every report file and lists every trial row, the corrupt one included', () => {
    expect(result.files).toEqual([...REPORT_FILES]);
    expect(trials.map((t) => t.trialId)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    const csv = readFileSync(join(outDir, 'trials.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(11);
    const phaseMap = JSON.parse(readFileSync(join(outDir, 'phase-map.json'), 'utf8'));
    expect(phaseMap.panels.some((p: { map: unknown }) => p.map !== null)).toBe(true);
  });

  it('lists failed and cancelled trials as missing, with their reasons', () => {
    expect(byId('t4')).toMatchObject({ status: 'error', phase: null, error: 'Error: CUDA out of memory' });
    expect(byId('t5')).toMatchObject({ status: 'diverged', error: 'NaN training loss at step 300' });
    expect(byId('t6')).toMatchObject({ status: 'cancelled', error: 'sweep cancelled before the trial ran' });
    const section = missing();
    expect(section).toContain('<code>t4</code> error: Error: CUDA out of memory');
    expect(section).toContain('<code>t5</code> diverged: NaN training loss at step 300');
    expect(section).toMatch(/Cancelled trials \(1\)<\/h3><ul><li><code>t6<\/code>/);
    expect(result.warnings).toContain('3 of 10 trials failed');
    expect(result.warnings).toContain('1 of 10 trials were cancelled');
  });

  it('lists completed trials without curves, saying why when their curves are corrupt', () => {
    expect(byId('t7')).toMatchObject({ status: 'completed', phase: 'memorization' });
    expect(byId('t7').curves).toBeUndefined();
    expect(byId('t9').curves).toBeUndefined();
    expect(byId('t9').error).toMatch(
      /^curves unreadable: corrupt row in table curves \(trial_id=t9, step=300\)/,
    );
    expect(byId('t0').curves).toHaveLength(10);
    const section = missing();
    expect(section).toMatch(
      /Completed trials without curves \(2\)<\/h3><ul><li><code>t7<\/code>.*<code>t9<\/code>/,
    );
    expect(result.warnings).toContain('2 completed trials have no curves');
    expect(
      result.warnings.some((w) => w.startsWith('trial t9: curves unreadable in the results store')),
    ).toBe(true);
  });

  it('keeps the unreadable trial row as invalid, saying what is wrong with it', () => {
    const t8 = byId('t8');
    expect(t8).toMatchObject({ status: 'invalid', phase: null, params: params(8) });
    expect(t8.error).toMatch(
      /^unreadable record: corrupt row in table trials \(trial_id=t8\): column outcome: invalid JSON/,
    );
    expect(missing()).toContain(
      '<code>t8</code> invalid: unreadable record: corrupt row in table trials (trial_id=t8): column outcome: invalid JSON',
    );
    expect(
      result.warnings.some((w) => w.startsWith('trial t8: record unreadable in the results store')),
    ).toBe(true);
  });

  it('sweep status and watch read the same store: the readable trials, and a warning naming the unreadable one', async () => {
    const warnings: string[] = [];
    const read = await storedTrials(store, SWEEP, (m) => warnings.push(m));
    expect(read.map((t) => t.trialId).sort()).toEqual(
      ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 't9'].sort(),
    );
    expect(warnings).toEqual([
      expect.stringMatching(
        /^trial t8: record unreadable in the results store \(corrupt row in table trials \(trial_id=t8\)/,
      ),
    ]);
  });

  it('leaves the store as it was', () => {
    expect(snapshot()).toEqual(before);
    expect(before.trials).toHaveLength(10);
  });
});
