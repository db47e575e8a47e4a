import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CurvePoint, TrialOutcome } from '@grokmap/plugin-sdk';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CorruptRowError, StoreError } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { openStore, sqlitePathFromUrl } from './open-store.js';
import { openPostgresStore, toPostgresPlaceholders } from './postgres-store.js';
import type { SqlResultsStore } from './sql-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { SweepRecord, TrialResult } from './types.js';

const PG_URL = process.env.GROKMAP_TEST_PG_URL;

/** One database per test: open any number of stores on it, and reach its tables directly. */
interface TestDatabase {
  open(migrations?: readonly Migration[]): SqlResultsStore;
  /** Run SQL (with `?` placeholders) around the store, e.g. to corrupt a row. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

interface Backend {
  name: 'sqlite' | 'postgres';
  create(): TestDatabase;
  dispose(): Promise<void>;
}

function sqliteBackend(): Backend {
  const root = mkdtempSync(join(tmpdir(), 'grokmap-store-'));
  return {
    name: 'sqlite',
    create() {
      const path = join(root, randomUUID(), 'results.db');
      return {
        open: (migrations) => openSqliteStore({ path, migrations }),
        async raw(sql, params = []) {
          const db = new Database(path);
          try {
            const statement = db.prepare(sql);
            if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
            statement.run(...params);
            return [];
          } finally {
            db.close();
          }
        },
      };
    },
    async dispose() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function postgresBackend(url: string): Backend {
  const schemas: string[] = [];
  return {
    name: 'postgres',
    create() {
      const schema = `grokmap_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      schemas.push(schema);
      return {
        open: (migrations) => openPostgresStore({ url, schema, migrations, maxConnections: 12 }),
        async raw(sql, params = []) {
          const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
          await client.connect();
          try {
            return (await client.query(toPostgresPlaceholders(sql), params)).rows;
          } finally {
            await client.end();
          }
        },
      };
    },
    async dispose() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

function curve(n: number, offset = 0): CurvePoint[] {
  return Array.from({ length: n }, (_, i) => ({
    step: (i + 1) * 50,
    trainAcc: Math.min(1, (i + 1) / n),
    valAcc: Math.min(1, ((i + 1) / n) ** 2 + offset),
    trainLoss: 2 / (i + 1),
    ...(i % 2 === 0 ? { valLoss: 3 / (i + 1), weightNorm: 10 + i + offset } : {}),
  }));
}

function outcome(overrides: Partial<TrialOutcome> = {}): TrialOutcome {
  const curves = overrides.curves ?? curve(12);
  return {
    status: 'completed',
    steps: curves.at(-1)?.step ?? 0,
    maxSteps: 1000,
    firstStepAtThreshold: { train: 300, val: 550 },
    final: { trainAcc: 1, valAcc: 0.995, trainLoss: 0.01 },
    curves,
    backend: 'wasm',
    extra: { wallMs: 1234, parameters: 5000 },
    ...overrides,
  };
}

function result(trialId: string, overrides: Partial<TrialResult> = {}): TrialResult {
  return {
    sweepId: 'sweep-a',
    trialId,
    index: 0,
    params: { weight_decay: 1, data_fraction: 0.4, seed: 0 },
    attempts: 1,
    outcome: outcome(),
    phase: 'grokking',
    tTrain: 300,
    tVal: 550,
    ratio: 550 / 300,
    valAtTrain: 0.31,
    semiGrokking: false,
    ...overrides,
  };
}

function sweep(sweepId: string, overrides: Partial<SweepRecord> = {}): SweepRecord {
  return {
    sweepId,
    name: 'modadd-p59',
    trainer: 'synthetic',
    method: 'grid',
    spec: { name: 'modadd-p59', parameters: { weight_decay: { values: [0.1, 1] } }, budget: { trials: 4 } },
    status: 'running',
    plannedTrials: 4,
    createdAt: '2026-11-28T10:00:00.000Z',
    updatedAt: '2026-11-28T10:00:00.000Z',
    ...overrides,
  };
}

const running = (trialId: string, attempt: number, index = 0) => ({
  sweepId: 'sweep-a',
  trialId,
  index,
  params: { seed: index },
  attempt,
});

const backends: Backend[] = [sqliteBackend(), ...(PG_URL ? [postgresBackend(PG_URL)] : [])];

if (!PG_URL) {
  describe('postgres results store', () => {
    it.skip('skipped: set GROKMAP_TEST_PG_URL (eval "$(bash .ci/postgres.sh)") to run the suite on PostgreSQL', () => {});
  });
}

describe.each(backends)('$name results store', (backend) => {
  const opened: SqlResultsStore[] = [];
  const track = (store: SqlResultsStore) => {
    opened.push(store);
    return store;
  };
  async function fresh(): Promise<{ store: SqlResultsStore; db: TestDatabase }> {
    const db = backend.create();
    const store = track(db.open());
    await store.migrate();
    return { store, db };
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  afterAll(() => backend.dispose());

  it('reports its kind', async () => {
    const { store } = await fresh();
    expect(store.kind).toBe(backend.name);
  });

  it("gives a trial's parameters and metrics back bit for bit, as a bayes or adaptive sweep reads its trials back", async () => {
    const { store } = await fresh();
    const params = {
      weight_decay: 10 ** -2.345678901234567,
      data_fraction: 0.1 + 0.2,
      lr: 1e-5,
      tiny: 5e-324,
      huge: 1.7976931348623157e308,
      layers: 3,
      optimizer: 'adamw',
      batch_norm: true,
    };
    const val = 0.1 + 0.7;
    await store.recordTrialResult(
      result('t1', { params, outcome: outcome({ final: { trainAcc: 1, valAcc: val, trainLoss: 1 / 3 } }) }),
    );
    const [trial] = await store.listTrials('sweep-a');
    expect(
      Object.entries(trial!.params).every(([k, v]) => Object.is(v, params[k as keyof typeof params])),
    ).toBe(true);
    expect(trial!.params).toEqual(params);
    expect(Object.is(trial!.outcome!.final.valAcc, val)).toBe(true);
    expect(Object.is(trial!.outcome!.final.trainLoss, 1 / 3)).toBe(true);
  });

  it('migrate twice is a no-op that keeps data', async () => {
    const { store, db } = await fresh();
    await store.saveSweep(sweep('s1'));
    const before = await db.raw('SELECT version, applied_at FROM schema_migrations ORDER BY version');
    expect(before.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await store.migrate();
    const again = track(db.open());
    await again.migrate();
    expect(await db.raw('SELECT version, applied_at FROM schema_migrations ORDER BY version')).toEqual(
      before,
    );
    expect((await again.getSweep('s1'))?.name).toBe('modadd-p59');
  });

  it('concurrent migrations from separate connections apply each version once', async () => {
    const db = backend.create();
    const stores = Array.from({ length: 4 }, () => track(db.open()));
    await Promise.all(stores.map((s) => s.migrate()));
    const rows = await db.raw('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await stores[0]!.saveSweep(sweep('s1'));
    expect(await stores[3]!.getSweep('s1')).toBeDefined();
  });

  it('a new migration appended to the list is applied alone; an older build refuses a newer schema', async () => {
    const { store, db } = await fresh();
    await store.markTrialRunning(running('t1', 1));
    const extra: Migration = {
      version: MIGRATIONS.length + 1,
      name: 'extra table',
      statements: (t) => [
        `CREATE TABLE extra_notes (sweep_id TEXT PRIMARY KEY, details ${t.json} NOT NULL, found_at ${t.timestamp})`,
      ],
    };
    const newer = track(db.open([...MIGRATIONS, extra]));
    await newer.migrate();
    await db.raw('INSERT INTO extra_notes (sweep_id, details) VALUES (?, ?)', ['s1', '{"drop":0.2}']);
    const versions = await db.raw('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(versions.at(-1)).toEqual({ version: extra.version, name: 'extra table' });
    expect((await newer.getTrial('t1'))?.status).toBe('running');
    await expect(track(db.open()).migrate()).rejects.toThrow(
      new RegExp(`schema version ${extra.version}, newer than this grokmap knows \\(${MIGRATIONS.length}\\)`),
    );
  });

  it('migration 3 keeps the regressions stored before it, and accepts the verdict failed', async () => {
    const db = backend.create();
    const old = track(db.open(MIGRATIONS.slice(0, 2)));
    await old.migrate();
    const record = (sweepId: string, verdict: 'pass' | 'failed') => ({
      sweepId,
      scheduleName: 'nightly',
      specName: 'spec-a',
      baselineSweepId: null,
      verdict,
      details: { reasons: [sweepId] },
      createdAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    });
    await old.saveRegression(record('r1', 'pass'));
    // Version 2's constraint refuses the new verdict: the old schema cannot hold it.
    await expect(old.saveRegression(record('r2', 'failed'))).rejects.toThrow(/check constraint/i);
    const store = track(db.open());
    await store.migrate();
    expect(await store.getRegression('r1')).toEqual(record('r1', 'pass'));
    await store.saveRegression(record('r2', 'failed'));
    expect((await store.listRegressions({ scheduleName: 'nightly' })).map((r) => r.verdict).sort()).toEqual([
      'failed',
      'pass',
    ]);
    expect(await store.lastPassingSweep({ scheduleName: 'nightly' })).toBe('r1');
  });

  it('regressions: saved once per sweep, listed newest first, last passing sweep per schedule', async () => {
    const { store } = await fresh();
    const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
    const verdict = (
      sweepId: string,
      v: 'pass' | 'regressed' | 'baseline',
      m: number,
      scheduleName = 'nightly',
    ) =>
      store.saveRegression({
        sweepId,
        scheduleName,
        specName: 'spec-a',
        baselineSweepId: null,
        verdict: v,
        details: { changedShare: m / 10 },
        createdAt: at(m),
      });
    expect(await store.lastPassingSweep({ scheduleName: 'nightly' })).toBeUndefined();
    await verdict('r1', 'baseline', 1);
    await verdict('r2', 'pass', 2);
    await verdict('r3', 'regressed', 3);
    await verdict('o1', 'pass', 4, 'other');
    await verdict('r2', 'pass', 9); // a retried save keeps its first time
    expect((await store.listRegressions({ scheduleName: 'nightly' })).map((r) => r.sweepId)).toEqual([
      'r3',
      'r2',
      'r1',
    ]);
    expect((await store.listRegressions({ limit: 2 })).map((r) => r.sweepId)).toEqual(['o1', 'r3']);
    expect(await store.getRegression('r3')).toMatchObject({
      verdict: 'regressed',
      details: { changedShare: 0.3 },
    });
    expect(await store.lastPassingSweep({ scheduleName: 'nightly' })).toBe('r2');
    expect(await store.lastPassingSweep({ scheduleName: 'nightly', excludeSweepId: 'r2' })).toBe('r1');
    expect(await store.lastPassingSweep({ specName: 'spec-a' })).toBe('o1');
    await expect(verdict('bad', 'nope' as 'pass', 5)).rejects.toThrow(StoreError);
  });

  it('a failing migration names itself and leaves no partial schema', async () => {
    const { store, db } = await fresh();
    await store.saveSweep(sweep('s1'));
    const broken: Migration = {
      version: MIGRATIONS.length + 1,
      name: 'broken',
      statements: () => ['CREATE TABLE half_done (id TEXT)', 'CREATE TABLE nope ('],
    };
    await expect(track(db.open([...MIGRATIONS, broken])).migrate()).rejects.toThrow(
      new RegExp(`schema migration ${broken.version} \\(broken\\) failed`),
    );
    expect(await db.raw('SELECT MAX(version) AS v FROM schema_migrations')).toEqual([
      { v: MIGRATIONS.length },
    ]);
    await expect(db.raw('SELECT * FROM half_done')).rejects.toThrow(/half_done/);
  });

  it('recording a trial twice leaves one row and the first set of curves', async () => {
    const { store, db } = await fresh();
    const first = result('t1');
    expect(await store.recordTrialResult(first)).toEqual({ recorded: true });
    const second = result('t1', { outcome: outcome({ curves: curve(5, 0.001), status: 'diverged' }) });
    expect(await store.recordTrialResult(second)).toEqual({ recorded: false });
    expect(await db.raw('SELECT COUNT(*) AS n FROM trials')).toEqual([{ n: expect.anything() }]);
    expect(Number((await db.raw('SELECT COUNT(*) AS n FROM trials'))[0]!.n)).toBe(1);
    expect(Number((await db.raw('SELECT COUNT(*) AS n FROM curves'))[0]!.n)).toBe(
      first.outcome.curves.length,
    );
    expect(await store.getCurves('t1')).toEqual(first.outcome.curves);
    expect((await store.getTrial('t1'))?.status).toBe('completed');
  });

  it('goes running → final and never back', async () => {
    const { store } = await fresh();
    await store.markTrialRunning(running('t1', 1));
    const started = await store.getTrial('t1');
    expect(started).toMatchObject({ status: 'running', attempts: 1 });
    expect(started?.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(started?.outcome).toBeUndefined();

    await store.markTrialRunning(running('t1', 2));
    await store.markTrialRunning(running('t1', 2));
    expect((await store.getTrial('t1'))?.attempts).toBe(2);

    expect(await store.recordTrialResult(result('t1', { attempts: 2 }))).toEqual({ recorded: true });
    const done = await store.getTrial('t1');
    expect(done).toMatchObject({
      status: 'completed',
      attempts: 2,
      phase: 'grokking',
      tTrain: 300,
      tVal: 550,
    });
    expect(done?.startedAt).toBe(started?.startedAt);
    expect(done?.finishedAt).toBeDefined();

    await store.markTrialRunning(running('t1', 3));
    expect(
      await store.recordTrialFailure({
        ...running('t1', 3),
        attempts: 3,
        status: 'error',
        error: 'late failure',
      }),
    ).toEqual({ recorded: false });
    expect(await store.getTrial('t1')).toEqual(done);
  });

  it('records failures once and a failed trial is final too', async () => {
    const { store } = await fresh();
    await store.markTrialRunning(running('t1', 1, 4));
    const failure = {
      sweepId: 'sweep-a',
      trialId: 't1',
      index: 4,
      params: { seed: 4 },
      attempts: 3,
      status: 'timed_out' as const,
      error: 'heartbeat timeout',
    };
    expect(await store.recordTrialFailure(failure)).toEqual({ recorded: true });
    expect(await store.recordTrialFailure({ ...failure, error: 'other' })).toEqual({ recorded: false });
    expect(await store.recordTrialResult(result('t1'))).toEqual({ recorded: false });
    const trial = await store.getTrial('t1');
    expect(trial).toMatchObject({ status: 'timed_out', attempts: 3, error: 'heartbeat timeout', index: 4 });
    expect(trial?.outcome).toBeUndefined();
    expect(await store.getCurves('t1')).toEqual([]);
  });

  it('parallel records of the same trial leave one row and the winner’s curves', async () => {
    const db = backend.create();
    const stores = [track(db.open()), track(db.open())];
    await stores[0]!.migrate();
    const contenders = Array.from({ length: 8 }, (_, i) =>
      result('t1', { attempts: i + 1, outcome: outcome({ curves: curve(10 + i, i / 1000) }) }),
    );
    const outcomes = await Promise.all(contenders.map((r, i) => stores[i % 2]!.recordTrialResult(r)));
    const winners = outcomes.flatMap((o, i) => (o.recorded ? [i] : []));
    expect(winners).toHaveLength(1);
    const winner = contenders[winners[0]!]!;
    expect(Number((await db.raw('SELECT COUNT(*) AS n FROM trials'))[0]!.n)).toBe(1);
    expect((await stores[1]!.getTrial('t1'))?.attempts).toBe(winner.attempts);
    expect(await stores[0]!.getCurves('t1')).toEqual(winner.outcome.curves);
  });

  it('lists a sweep’s trials by index, and only that sweep’s', async () => {
    const { store } = await fresh();
    for (const index of [3, 0, 5, 1, 2]) {
      await store.recordTrialResult(result(`t${index}`, { index }));
    }
    await store.markTrialRunning(running('t4', 1, 4));
    await store.recordTrialResult(result('other', { sweepId: 'sweep-b', index: 0 }));
    const trials = await store.listTrials('sweep-a');
    expect(trials.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(trials.map((t) => t.trialId)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
    expect(trials[4]?.status).toBe('running');
    expect((await store.listTrials('sweep-b')).map((t) => t.trialId)).toEqual(['other']);
    expect(await store.listTrials('nope')).toEqual([]);
  });

  it('saves sweeps and updates their status', async () => {
    const { store } = await fresh();
    const s1 = sweep('s1');
    await store.saveSweep(s1);
    // 10:30 in UTC+02:00 is 08:30Z: earliest of the three, whatever the text says.
    await store.saveSweep(sweep('s2', { createdAt: '2026-11-28T10:30:00+02:00' }));
    await store.saveSweep(sweep('s0', { createdAt: '2026-11-28T09:00:00.000Z' }));
    expect((await store.getSweep('s2'))?.createdAt).toBe('2026-11-28T08:30:00.000Z');
    expect(await store.getSweep('s1')).toEqual(s1);
    expect((await store.listSweeps()).map((s) => s.sweepId)).toEqual(['s2', 's0', 's1']);

    await store.setSweepStatus('s1', 'completed', { verdict: 'all trials done' });
    const done = await store.getSweep('s1');
    expect(done).toMatchObject({ status: 'completed', verdict: 'all trials done' });
    expect(Date.parse(done!.finishedAt!)).toBeGreaterThan(Date.parse(s1.createdAt));
    expect(done!.updatedAt).toBe(done!.finishedAt);

    await store.setSweepStatus('s1', 'completed', { reportDir: '/tmp/report' });
    const reported = await store.getSweep('s1');
    expect(reported).toMatchObject({ verdict: 'all trials done', reportDir: '/tmp/report' });
    expect(reported!.finishedAt).toBe(done!.finishedAt);

    await store.setSweepStatus('s1', 'running');
    expect((await store.getSweep('s1'))?.finishedAt).toBeUndefined();

    await store.saveSweep(sweep('s1', { createdAt: '2030-01-01T00:00:00.000Z', plannedTrials: 9 }));
    expect(await store.getSweep('s1')).toMatchObject({ plannedTrials: 9, createdAt: s1.createdAt });
    await expect(store.setSweepStatus('missing', 'failed')).rejects.toThrow(/sweep missing: no such sweep/);
    expect(await store.getSweep('missing')).toBeUndefined();
  });

  it('round-trips curves and the outcome', async () => {
    const { store } = await fresh();
    const points = curve(30);
    const shuffled = [
      points[5]!,
      ...points.slice(0, 5),
      ...points.slice(6),
      { ...points[2]!, trainAcc: 0.5 },
    ];
    const r = result('t1', { outcome: outcome({ curves: shuffled }), ratio: null, semiGrokking: true });
    await store.recordTrialResult(r);
    const expected = points.map((p, i) => (i === 2 ? { ...p, trainAcc: 0.5 } : p));
    expect(await store.getCurves('t1')).toEqual(expected);
    const { curves: _curves, ...stored } = r.outcome;
    const trial = await store.getTrial('t1');
    expect(trial?.outcome).toEqual(stored);
    expect(trial).toMatchObject({ params: r.params, ratio: null, valAtTrain: 0.31, semiGrokking: true });
    await store.recordTrialResult(result('t2', { tTrain: 0, tVal: 400, ratio: Number.POSITIVE_INFINITY }));
    expect((await store.getTrial('t2'))?.ratio).toBe(Number.POSITIVE_INFINITY);
    expect(await store.getCurves('unknown')).toEqual([]);
    expect(await store.getTrial('unknown')).toBeUndefined();
  });

  it('refuses invalid input without writing anything', async () => {
    const { store } = await fresh();
    await expect(store.recordTrialResult(result('t1', { index: -1 }))).rejects.toThrow(
      /invalid result of trial t1: index/,
    );
    const badCurve = outcome({ curves: [{ step: 1, trainAcc: 2, valAcc: 0 }] });
    await expect(store.recordTrialResult(result('t1', { outcome: badCurve }))).rejects.toThrow(
      /outcome\.curves\.0\.trainAcc/,
    );
    expect(await store.getTrial('t1')).toBeUndefined();
  });

  it('names the table, row and column of corrupt data', async () => {
    const { store, db } = await fresh();
    await store.recordTrialResult(result('t1'));

    await db.raw('UPDATE trials SET params = ? WHERE trial_id = ?', ['[1, 2]', 't1']);
    const err = await store.getTrial('t1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRowError);
    expect((err as Error).message).toMatch(
      /table trials \(trial_id=t1\): column params: unexpected JSON content/,
    );
    await expect(store.listTrials('sweep-a')).rejects.toThrow(/trial_id=t1/);

    await db.raw('UPDATE trials SET params = ?, phase = ? WHERE trial_id = ?', ['{}', 'enlightenment', 't1']);
    await expect(store.getTrial('t1')).rejects.toThrow(
      /trial_id=t1\): column phase: unexpected value "enlightenment"/,
    );

    await db.raw('UPDATE curves SET train_acc = ? WHERE trial_id = ? AND step = ?', [7, 't1', 100]);
    await expect(store.getCurves('t1')).rejects.toThrow(/table curves \(trial_id=t1, step=100\).*trainAcc/);
  });

  it('scans a sweep past corrupt trial rows, saying what is wrong with each, and changes nothing', async () => {
    const { store, db } = await fresh();
    await store.recordTrialResult(result('t0', { index: 0 }));
    await store.recordTrialResult(result('t1', { index: 1 }));
    await store.recordTrialResult(result('t2', { index: 2, params: { seed: 2 } }));
    // Valid JSON of the wrong shape: PostgreSQL's json columns refuse text that is not JSON at all.
    await db.raw('UPDATE trials SET outcome = ? WHERE trial_id = ?', ['{"status": 7}', 't1']);
    await db.raw('UPDATE trials SET params = ? WHERE trial_id = ?', ['[1, 2]', 't2']);
    const before = await db.raw('SELECT * FROM trials ORDER BY trial_id');

    await expect(store.listTrials('sweep-a')).rejects.toThrow(CorruptRowError);
    const scan = await store.scanTrials('sweep-a');
    expect(scan.trials.map((t) => t.trialId)).toEqual(['t0']);
    expect(scan.trials[0]).toEqual(await store.getTrial('t0'));
    expect(scan.unreadable).toEqual([
      {
        trialId: 't1',
        index: 1,
        params: result('t1').params,
        problem: expect.stringMatching(/table trials \(trial_id=t1\): column outcome: /),
      },
      {
        trialId: 't2',
        index: 2,
        problem: expect.stringMatching(
          /table trials \(trial_id=t2\): column params: unexpected JSON content/,
        ),
      },
    ]);
    expect(await store.scanTrials('no-such-sweep')).toEqual({ trials: [], unreadable: [] });
    expect(await db.raw('SELECT * FROM trials ORDER BY trial_id')).toEqual(before);
  });

  it('counts trials per sweep, status and phase in one query', async () => {
    const { store } = await fresh();
    expect(await store.trialCounts()).toEqual([]);
    await store.recordTrialResult(result('a0', { index: 0 }));
    await store.recordTrialResult(result('a1', { index: 1 }));
    await store.recordTrialResult(result('a2', { index: 2, phase: 'memorization' }));
    await store.markTrialRunning(running('a3', 1, 3));
    await store.recordTrialResult(result('b0', { sweepId: 'sweep-b', phase: 'confusion' }));
    await store.recordTrialFailure({
      sweepId: 'sweep-b',
      trialId: 'b1',
      index: 1,
      params: { seed: 1 },
      attempts: 3,
      status: 'error',
      error: 'boom',
    });
    expect(await store.trialCounts()).toEqual([
      { sweepId: 'sweep-a', status: 'completed', phase: 'grokking', count: 2 },
      { sweepId: 'sweep-a', status: 'completed', phase: 'memorization', count: 1 },
      { sweepId: 'sweep-a', status: 'running', phase: null, count: 1 },
      { sweepId: 'sweep-b', status: 'completed', phase: 'confusion', count: 1 },
      { sweepId: 'sweep-b', status: 'error', phase: null, count: 1 },
    ]);
  });
});

describe('sqlite results store on disk', () => {
  const root = mkdtempSync(join(tmpdir(), 'grokmap-sqlite-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('creates missing folders and uses WAL with a busy timeout', async () => {
    const path = join(root, 'a', 'b', 'c', 'grokmap.db');
    const store = openSqliteStore({ path, busyTimeoutMs: 1234 });
    await store.migrate();
    await store.close();
    expect(existsSync(path)).toBe(true);
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('says which file is not a database', () => {
    const path = join(root, 'not-a-db.db');
    writeFileSync(path, 'x'.repeat(4096));
    expect(() => openSqliteStore({ path })).toThrow(StoreError);
    expect(() => openSqliteStore({ path })).toThrow(
      /cannot open SQLite database sqlite:.*not-a-db\.db: file is not a database/,
    );
  });

  it('names the row holding text SQLite accepted but a record cannot hold', async () => {
    const path = join(root, 'corrupt', 'grokmap.db');
    const store = openSqliteStore({ path });
    await store.migrate();
    await store.saveSweep(sweep('s1'));
    await store.saveSweep(sweep('s2'));
    const db = new Database(path);
    db.prepare('UPDATE sweeps SET spec = ? WHERE sweep_id = ?').run('{"broken', 's1');
    db.prepare('UPDATE sweeps SET created_at = ? WHERE sweep_id = ?').run('yesterday', 's2');
    db.close();
    await expect(store.getSweep('s1')).rejects.toThrow(
      /table sweeps \(sweep_id=s1\): column spec: invalid JSON/,
    );
    await expect(store.getSweep('s2')).rejects.toThrow(
      /table sweeps \(sweep_id=s2\): column created_at: expected an ISO-8601 timestamp, found string "yesterday"/,
    );
    await store.close();
  });

  it('scans sweeps past a row SQLite accepted but a record cannot hold, oldest first, changing nothing', async () => {
    const path = join(root, 'scan-sweeps', 'grokmap.db');
    const store = openSqliteStore({ path });
    await store.migrate();
    expect(await store.scanSweeps()).toEqual({ sweeps: [], unreadable: [] });
    await store.saveSweep(sweep('s-new', { createdAt: '2026-11-28T12:00:00.000Z' }));
    await store.saveSweep(sweep('s-old', { createdAt: '2026-11-28T08:00:00.000Z' }));
    await store.saveSweep(sweep('s-bad', { createdAt: '2026-11-28T10:00:00.000Z' }));
    const db = new Database(path);
    db.prepare('UPDATE sweeps SET updated_at = ? WHERE sweep_id = ?').run('soon', 's-bad');
    const before = db.prepare('SELECT * FROM sweeps ORDER BY sweep_id').all();

    await expect(store.listSweeps()).rejects.toThrow(CorruptRowError);
    const scan = await store.scanSweeps();
    expect(scan.sweeps.map((s) => s.sweepId)).toEqual(['s-old', 's-new']);
    expect(scan.sweeps[1]).toEqual(await store.getSweep('s-new'));
    expect(scan.unreadable).toEqual([
      {
        sweepId: 's-bad',
        problem: expect.stringMatching(
          /table sweeps \(sweep_id=s-bad\): column updated_at: expected an ISO-8601 timestamp, found string "soon"/,
        ),
      },
    ]);
    expect(db.prepare('SELECT * FROM sweeps ORDER BY sweep_id').all()).toEqual(before);
    db.close();
    await store.close();
  });

  it('applies each migration once when several processes migrate at the same moment', async () => {
    const path = join(root, 'processes', 'grokmap.db');
    const script = `
      import { openSqliteStore } from ${JSON.stringify(fileURLToPath(new URL('./sqlite-store.ts', import.meta.url)))};
      const store = openSqliteStore({ path: process.argv[1] });
      await store.migrate();
      await store.markTrialRunning({ sweepId: 's', trialId: 't' + process.pid, index: process.pid, params: {}, attempt: 1 });
      await store.close();
    `;
    const run = promisify(execFile);
    await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path]),
      ),
    );
    const store = openSqliteStore({ path });
    expect((await store.listTrials('s')).length).toBe(4);
    await store.close();
    const db = new Database(path);
    expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual(
      MIGRATIONS.map((m) => ({ version: m.version })),
    );
    db.close();
  }, 60_000);
});

describe('openStore', () => {
  const root = mkdtempSync(join(tmpdir(), 'grokmap-open-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads SQLite paths from sqlite: and file: URLs', () => {
    expect(sqlitePathFromUrl('sqlite:///var/data/g.db')).toBe('/var/data/g.db');
    expect(sqlitePathFromUrl('sqlite:rel/g.db')).toBe('rel/g.db');
    expect(sqlitePathFromUrl('file:///tmp/a%20b.db?mode=rwc')).toBe('/tmp/a b.db');
    expect(() => sqlitePathFromUrl('sqlite://')).toThrow(/names no SQLite file/);
  });

  it('opens a migrated SQLite store from a path or a URL', async () => {
    const fromPath = await openStore({ sqlitePath: join(root, 'p', 'g.db') });
    expect(fromPath.kind).toBe('sqlite');
    await fromPath.saveSweep(sweep('s1'));
    await fromPath.close();
    const fromUrl = await openStore({
      databaseUrl: `sqlite://${join(root, 'p', 'g.db')}`,
      sqlitePath: '/nowhere',
    });
    expect((await fromUrl.getSweep('s1'))?.sweepId).toBe('s1');
    await fromUrl.close();
  });

  it('refuses URLs it does not understand, without echoing credentials', async () => {
    await expect(openStore({ databaseUrl: 'mysql://root:hunter2@db/x' })).rejects.toThrow(
      /unsupported database URL "mysql:\/\/…@db\/x"/,
    );
    await expect(openStore({})).rejects.toThrow(/needs a databaseUrl or a sqlitePath/);
  });

  it('names the PostgreSQL server it cannot reach, without the password', async () => {
    const err = await openStore({ databaseUrl: 'postgresql://u:secret@127.0.0.1:1/none' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(
      /cannot connect to PostgreSQL at postgres:\/\/u@127\.0\.0\.1:1\/none/,
    );
    expect((err as Error).message).not.toContain('secret');
  });

  it.skipIf(!PG_URL)('opens a PostgreSQL store from a postgres:// URL', async () => {
    const store = await openStore({ databaseUrl: PG_URL });
    expect(store.kind).toBe('postgres');
    await store.close();
  });
});

describe('toPostgresPlaceholders', () => {
  it('numbers placeholders outside quotes', () => {
    expect(toPostgresPlaceholders(`SELECT ? , '?' , "a?" , ?`)).toBe(`SELECT $1 , '?' , "a?" , $2`);
  });
});
