import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REFERENCE_GRIDS_FILE } from '../reference-file.js';
import { MISSING_LIST_LIMIT } from './html.js';
import type { ReportInput, ReportTrial } from './input.js';
import { sampleReportInput } from './sample-input.js';
import { PHASE_COLORS } from './style.js';
import { REPORT_FILES, writeReport } from './write-report.js';

const dirs: string[] = [];
async function outDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'grokmap-report-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function html(dir: string): Promise<string> {
  return readFile(join(dir, 'report.html'), 'utf8');
}

function rowCount(page: string): number {
  return page.match(/<tr[^>]*data-trial-id=/g)?.length ?? 0;
}

/** What is between an element with `id` and the next section. */
function section(page: string, id: string): string {
  const start = page.indexOf(`<section id="${id}">`);
  expect(start, `section ${id}`).toBeGreaterThanOrEqual(0);
  return page.slice(start, page.indexOf('</section>', start));
}

function failedTrial(
  id: string,
  params: Record<string, unknown>,
  status = 'error',
  error?: string,
): ReportTrial {
  return {
    trialId: id,
    params,
    status,
    phase: null,
    tTrain: null,
    tVal: null,
    ratio: null,
    ...(error ? { error } : {}),
  };
}

function baseInput(trials: ReportTrial[]): ReportInput {
  return {
    sweep: { id: 's1', name: 'tiny', spec: { parameters: {} }, status: 'completed' },
    trials,
    phaseRule: { threshold: 0.99, delaySteps: 1000 },
  };
}

describe('writeReport on a realistic sweep', () => {
  it('writes every file, one table row per trial, and no network reference', async () => {
    const input = sampleReportInput({
      failEvery: 17,
      weightDecays: [0.01, 0.1, 1, 10],
      fractions: [0.2, 0.4, 0.6, 0.8],
      seeds: 2,
    });
    const dir = await outDir();
    const result = await writeReport(input, dir);
    expect(result.files).toEqual([...REPORT_FILES]);
    for (const f of REPORT_FILES) expect((await stat(join(dir, f))).size, f).toBeGreaterThan(0);

    const page = await html(dir);
    expect(rowCount(page)).toBe(input.trials.length);
    // Self-contained: no external resource of any kind. (xmlns values are names, not requests.)
    const withoutNamespaces = page.replace(/xmlns(:\w+)?="[^"]*"/g, '');
    expect(withoutNamespaces).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/<link|<script|@import|\ssrc=/i);
    expect(page).toContain('<svg');
    // The three figures are inline and their ids do not collide.
    const ids = [...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    // The spec is shown as YAML, lists of values on one line.
    expect(section(page, 'sweep-spec')).toContain('data_fraction:\n    values: [ 0.2, 0.4, 0.6, 0.8 ]');
    // θ and Δ are stated.
    expect(section(page, 'phases')).toContain('θ = <strong>0.99</strong>');
    expect(section(page, 'phases')).toContain('Δ = <strong>1,000</strong>');
  });

  it('colours the phase diagram with the fixed phase colours of the phases present', async () => {
    const input = sampleReportInput({ seeds: 1, gaps: false });
    const dir = await outDir();
    await writeReport(input, dir);
    const svg = (await readFile(join(dir, 'phase-diagram.svg'), 'utf8')).toLowerCase();
    for (const phase of ['comprehension', 'grokking', 'memorization', 'confusion'] as const) {
      expect(input.trials.some((t) => t.phase === phase)).toBe(true);
      expect(svg).toContain(PHASE_COLORS[phase].toLowerCase());
    }
    const png = await readFile(join(dir, 'phase-diagram.png'));
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(200); // width from the IHDR chunk
  });

  it('writes CSV with proper quoting and JSON lines that round-trip', async () => {
    const input = sampleReportInput({
      failEvery: 5,
      weightDecays: [0.1, 1],
      fractions: [0.3, 0.6],
      modelSizes: [64],
      seeds: 2,
    });
    const dir = await outDir();
    await writeReport(input, dir);
    const csv = await readFile(join(dir, 'trials.csv'), 'utf8');
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'trial_id,status,phase,t_train,t_val,R,semi_grokking,curve_points,error,weight_decay,data_fraction,model_size,seed',
    );
    expect(lines).toHaveLength(input.trials.length + 1);
    // The error holds a comma-free string with quotes: quotes are doubled inside a quoted field.
    expect(csv).toContain('"CUDA error: out of memory <allocating 2.0 GiB> & ""retry"" failed"');
    const jsonl = (await readFile(join(dir, 'trials.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(jsonl.map((l) => JSON.parse(l).trialId)).toEqual(input.trials.map((t) => t.trialId));
    const map = JSON.parse(await readFile(join(dir, 'phase-map.json'), 'utf8'));
    expect(map.panels[0].map.cells.length).toBe(40 * 40);
  });
});

describe('writeReport escapes what users wrote', () => {
  it('never lets a name, parameter, error or spec become markup', async () => {
    const evil = '<script>alert("x")</script>';
    const input = baseInput([
      {
        trialId: `t-${evil}`,
        params: { weight_decay: 0.1, data_fraction: 0.5, note: '<img src=x onerror=alert(1)>' },
        status: 'completed',
        phase: 'grokking',
        tTrain: 100,
        tVal: 5000,
        ratio: 50,
      },
      failedTrial('t2', { weight_decay: 1, data_fraction: 0.3 }, 'error', `boom ${evil}`),
    ]);
    input.sweep.name = `sweep ${evil}`;
    input.sweep.verdict = `verdict ${evil}`;
    input.sweep.spec = { name: evil };
    const dir = await outDir();
    await writeReport(input, dir);
    const page = await html(dir);
    expect(page).not.toContain('<script');
    expect(page).not.toContain('<img');
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('writeReport on partial and corrupt input', () => {
  it('lists failed, cancelled, running and curve-less trials as missing', async () => {
    const input = sampleReportInput({
      failEvery: 4,
      weightDecays: [0.1, 1],
      fractions: [0.3, 0.6],
      modelSizes: [64],
      seeds: 2,
    });
    const dir = await outDir();
    const { warnings } = await writeReport(input, dir);
    const missing = section(await html(dir), 'missing');
    const failed = input.trials.filter((t) => t.status === 'error');
    expect(failed.length).toBeGreaterThan(0);
    for (const t of failed) expect(missing).toContain(`<code>${t.trialId}</code>`);
    expect(missing).toContain('Cancelled trials (1)');
    expect(missing).toContain('Still running (1)');
    expect(missing).toContain('Completed trials without curves (1)');
    expect(warnings).toContain(`${failed.length} of ${input.trials.length} trials failed`);
    expect(warnings).toContain(`1 of ${input.trials.length} trials were cancelled`);
  });

  it('says nothing is missing when nothing is', async () => {
    const input = sampleReportInput({
      weightDecays: [0.1, 1],
      fractions: [0.3, 0.6],
      modelSizes: [64],
      seeds: 1,
      gaps: false,
    });
    const dir = await outDir();
    const { warnings } = await writeReport(input, dir);
    expect(section(await html(dir), 'missing')).toContain('Nothing is missing');
    expect(warnings).toEqual([]);
  });

  it('still writes every file when all trials failed', async () => {
    const trials = [0.01, 0.1, 1].flatMap((wd, i) => [
      failedTrial(`f${i}a`, { weight_decay: wd, data_fraction: 0.3 }, 'diverged'),
      failedTrial(`f${i}b`, { weight_decay: wd, data_fraction: 0.6 }, 'cancelled'),
    ]);
    const dir = await outDir();
    const { warnings } = await writeReport(baseInput(trials), dir);
    for (const f of REPORT_FILES) expect((await stat(join(dir, f))).size, f).toBeGreaterThan(0);
    const page = await html(dir);
    expect(rowCount(page)).toBe(6);
    expect(section(page, 'missing')).toContain('Failed trials (3)');
    expect(section(page, 'missing')).toContain('Cancelled trials (3)');
    expect(warnings).toContain('3 of 6 trials failed');
    expect(warnings).toContain('no trial with curves: no curve figure drawn');
  });

  it('draws a single trial', async () => {
    const one: ReportTrial = {
      trialId: 'only',
      params: { weight_decay: 0.5, data_fraction: 0.4, seed: 0 },
      status: 'completed',
      phase: 'memorization',
      tTrain: 300,
      tVal: null,
      ratio: null,
      curves: [
        { step: 10, trainAcc: 0.2, valAcc: 0.1 },
        { step: 300, trainAcc: 0.99, valAcc: 0.2 },
        { step: 2000, trainAcc: 1, valAcc: 0.25 },
      ],
    };
    const dir = await outDir();
    const { warnings } = await writeReport(baseInput([one]), dir);
    const page = await html(dir);
    expect(rowCount(page)).toBe(1);
    expect(warnings).toEqual([]);
    const svg = await readFile(join(dir, 'phase-diagram.svg'), 'utf8');
    expect(svg.toLowerCase()).toContain(PHASE_COLORS.memorization.toLowerCase());
  });

  it('writes a report for a sweep with no trials', async () => {
    const dir = await outDir();
    const { warnings } = await writeReport(baseInput([]), dir);
    expect(warnings).toContain('the sweep has no trials: the report is empty');
    expect(rowCount(await html(dir))).toBe(0);
  });

  it('keeps unreadable trials as invalid and repairs a broken sweep record', async () => {
    const raw = {
      sweep: { id: 42 },
      phaseRule: 'strict',
      trials: [
        {
          trialId: 'bad-phase',
          params: { weight_decay: 1, data_fraction: 0.5 },
          status: 'completed',
          phase: 'banana',
          tTrain: 1,
          tVal: 2,
          ratio: 2,
        },
        {
          trialId: 'bad-curves',
          params: { weight_decay: 0.1, data_fraction: 0.5 },
          status: 'completed',
          phase: 'comprehension',
          tTrain: 100,
          tVal: 150,
          ratio: 1.5,
          curves: [{ step: -3, trainAcc: 7 }],
        },
        'not a trial',
      ],
    };
    const dir = await outDir();
    const { warnings } = await writeReport(raw as unknown as ReportInput, dir);
    const page = await html(dir);
    expect(rowCount(page)).toBe(3);
    expect(warnings.some((w) => w.startsWith('sweep record unreadable'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('phase rule unreadable'))).toBe(true);
    expect(warnings).toContain('trial bad-curves: curves unreadable, dropped');
    const missing = section(page, 'missing');
    expect(missing).toContain('<code>bad-phase</code> invalid');
    expect(missing).toContain('<code>(trial #3)</code> invalid');
    // The trial whose curves were dropped is kept, classified, and listed as curve-less.
    expect(missing).toContain('Completed trials without curves (1)');
  });
});

describe('writeReport with a published grid beside the sweep', () => {
  const reference = REFERENCE_GRIDS_FILE;
  const small = () =>
    sampleReportInput({
      weightDecays: [0.1, 1],
      fractions: [0.3, 0.6],
      modelSizes: [64],
      seeds: 1,
      gaps: false,
    });

  it('draws the grid as a figure after the phase diagram and writes it as SVG and PNG', async () => {
    const dir = await outDir();
    const { files, warnings } = await writeReport(small(), dir, {
      reference: { path: reference, grid: 'liu2022-addition-decoder-lr-x-wd' },
    });
    expect(warnings).toEqual([]);
    expect(files).toEqual([...REPORT_FILES, 'reference-phase-diagram.svg', 'reference-phase-diagram.png']);
    const page = await html(dir);
    const order = ['fig-phase', 'fig-reference', 'fig-delay'].map((id) => page.indexOf(`<figure id="${id}"`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(page).toContain('reference-phase-diagram.png');
    const svg = (await readFile(join(dir, 'reference-phase-diagram.svg'), 'utf8')).toLowerCase();
    expect(svg).toContain(PHASE_COLORS.confusion.toLowerCase());
  });

  it('reports a missing reference as a warning and still writes the report', async () => {
    const dir = await outDir();
    const { files, warnings } = await writeReport(small(), dir, {
      reference: { path: join(dir, 'nope.json'), grid: 'x' },
    });
    expect(files).toEqual([...REPORT_FILES]);
    expect(warnings.some((w) => w.startsWith('reference grid not drawn'))).toBe(true);
    expect(await html(dir)).not.toContain('fig-reference');
  });
});

describe('writeReport on a large failure', () => {
  it('names the first failed trials and counts the rest', async () => {
    const trials = Array.from({ length: MISSING_LIST_LIMIT + 25 }, (_, i) =>
      failedTrial(
        `x${i}`,
        { weight_decay: 0.01 * (1 + (i % 10)), data_fraction: 0.1 * (1 + (i % 7)) },
        'timed_out',
      ),
    );
    const dir = await outDir();
    await writeReport(baseInput(trials), dir);
    const page = await html(dir);
    const missing = section(page, 'missing');
    expect(missing).toContain(`Failed trials (${trials.length})`);
    expect(missing).toContain(`<code>x${MISSING_LIST_LIMIT - 1}</code>`);
    expect(missing).not.toContain(`<code>x${MISSING_LIST_LIMIT}</code>`);
    expect(missing).toContain('… and 25 more');
    expect(rowCount(page)).toBe(trials.length);
  });
});
