import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { stopDevServer } from '@grokmap/infra';
import type { TrialRecord } from '@grokmap/workers';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  figureSize,
  launchChromium,
  openOffline,
  saveScreenshot,
  skipWithoutChromium,
} from '../support/browser.js';
import { CLI_ENTRY, openTestStore, REPO_ROOT, runCli, tempDir, waitFor } from '../support/harness.js';

/**
 * The README's first command, end to end: `grokmap demo` as its own process
 * with a fresh grokmap home and no GROKMAP_TEMPORAL_ADDRESS, so it starts the
 * embedded dev server (its database in that home), runs the demo sweep with
 * in-process workers, prints the phase grid, writes the report and exits.
 * Then the report it wrote is opened offline in headless Chromium.
 */

const DEMO_SPEC = path.join(REPO_ROOT, 'plugins', 'synthetic', 'demo-sweep.yaml');
const DEMO_TIMEOUT_MS = 300_000;
const SEED_KEYS = new Set(['seed', 'seeds', 'random_seed']);
const PHASE_LETTERS = { comprehension: 'C', grokking: 'G', memorization: 'M', confusion: 'X' };

interface DemoSpec {
  budget: { trials: number };
  parameters: Record<string, { values: unknown[] }>;
}

/** Every grid point of the demo spec (parameter names in spec order), as the sweep should run them. */
function gridPoints(spec: DemoSpec): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [name, { values }] of Object.entries(spec.parameters)) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [name]: v })));
  }
  return points.slice(0, spec.budget.trials);
}

function gridKey(params: Record<string, unknown>, names: string[]): string {
  return JSON.stringify(names.map((n) => params[n]));
}

/** The environment a person has after a fresh clone: no external server, no database URL, a home of its own. */
function demoEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^GROKMAP_(TEMPORAL_(?!BIN$)|DATABASE_URL$|HOME$|LOG_LEVEL$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, GROKMAP_HOME: home, GROKMAP_LOG_LEVEL: 'warn' };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number | undefined): void {
  if (pgid && groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
}

/** The embedded server the demo recorded in its home (it keeps running after the demo, by design). */
function recordedServer(home: string): { pid: number; address: string; dbFile: string } | undefined {
  const file = path.join(home, 'server.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

/** Run the demo in its own process group; a demo that hangs is killed (group and all) and fails. */
async function runDemo(
  home: string,
  onSpawn: (child: ChildProcess) => void,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'demo'], {
    cwd: REPO_ROOT,
    env: demoEnv(home),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  onSpawn(child);
  const [out, err] = [child.stdout, child.stderr].map((stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    return () => Buffer.concat(chunks).toString();
  }) as [() => string, () => string];
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, DEMO_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (timedOut) {
    throw new Error(
      `grokmap demo did not exit within ${DEMO_TIMEOUT_MS} ms\nstdout:\n${out()}\nstderr:\n${err()}`,
    );
  }
  return { code, stdout: out(), stderr: err(), ms: Date.now() - started };
}

/** The phase-grid rows printed after the final "demo sweep …" line: one symbol per (facet, y, x) cell. */
function gridSymbols(stdout: string): string[] {
  const final = stdout.slice(stdout.lastIndexOf('\ndemo sweep '));
  const legendAt = final.indexOf('C comprehension');
  expect(legendAt, 'the grid legend is printed').toBeGreaterThan(0);
  return final
    .slice(0, legendAt)
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([y, ...row]) => /^-?\d/.test(y ?? '') && row.length > 0 && row.every((s) => /^\D$/.test(s)))
    .flatMap(([, ...row]) => row);
}

describe('grokmap demo (the README command) end to end', () => {
  const home = tempDir('demo');
  const spec = parse(readFileSync(DEMO_SPEC, 'utf8')) as DemoSpec;
  const expected = gridPoints(spec);
  const swept = Object.keys(spec.parameters);
  let demo: Awaited<ReturnType<typeof runDemo>>;
  let demoChild: ChildProcess | undefined;
  let server: ReturnType<typeof recordedServer>;
  let sweepId: string;
  let reportFile: string;

  beforeAll(async () => {
    demo = await runDemo(home, (c) => {
      demoChild = c;
    });
    server = recordedServer(home);
    process.stderr.write(`grokmap demo exited ${demo.code} after ${demo.ms} ms\n`);
    sweepId = /^demo sweep (\S+): /m.exec(demo.stdout)?.[1] ?? '';
    reportFile = /^report: (.+\/report\.html)$/m.exec(demo.stdout)?.[1] ?? '';
  }, DEMO_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    killGroup(demoChild?.pid);
    const left = server ?? recordedServer(home);
    await stopDevServer(home).catch(() => false);
    // Started detached, the server leads its own process group.
    killGroup(left?.pid);
    rmSync(home, { recursive: true, force: true });
  });

  it('exits 0 by itself, its workers gone, after a completed sweep on its own embedded server', async () => {
    expect(demo.code, `stdout:\n${demo.stdout}\nstderr:\n${demo.stderr}`).toBe(0);
    expect(demo.stdout).toMatch(
      new RegExp(`^demo sweep ${sweepId}: completed, ${expected.length} trials$`, 'm'),
    );
    // Workers run inside the demo process: nothing of its process group may outlive it
    // (tsx's esbuild child lingers as a zombie until init reaps it, so allow a few seconds).
    await waitFor('the demo process group to be gone', async () => !groupAlive(demoChild!.pid!), 10_000);
    // The embedded default, not an external server: started in this home, with its database there.
    expect(server, 'server.json in the demo home').toBeDefined();
    expect(server!.dbFile).toBe(path.join(home, 'temporal.db'));
    expect(existsSync(server!.dbFile)).toBe(true);
    expect(demo.stdout).toContain(`results: ${path.join(home, 'grokmap.db')}`);
  });

  it('prints a phase grid with all four phases, every cell decided', () => {
    const symbols = gridSymbols(demo.stdout);
    const cells =
      expected.length /
      swept
        .filter((n) => SEED_KEYS.has(n))
        .reduce((seeds, n) => seeds * spec.parameters[n]!.values.length, 1);
    expect(symbols).toHaveLength(cells);
    for (const [phase, letter] of Object.entries(PHASE_LETTERS)) {
      expect(symbols, `${phase} (${letter}) in the grid`).toContain(letter);
    }
    expect(
      symbols.filter((s) => !/^[CGMX~]$/.test(s)),
      'pending or failed cells',
    ).toEqual([]);
    expect(demo.stdout).toContain('phases seen: comprehension, confusion, grokking, memorization');
  });

  it('records every demo trial exactly once in the store under its home', async () => {
    const store = await openTestStore('sqlite', home);
    let trials: TrialRecord[];
    try {
      expect((await store.listSweeps()).map((s) => s.sweepId)).toEqual([sweepId]);
      trials = await store.listTrials(sweepId);
    } finally {
      await store.close();
    }
    expect(trials).toHaveLength(expected.length);
    expect(new Set(trials.map((t) => t.trialId)).size).toBe(expected.length);
    const seen = trials.map((t) => gridKey(t.params, swept)).sort();
    expect(seen).toEqual(expected.map((p) => gridKey(p, swept)).sort());
    for (const t of trials) {
      expect(t.status, t.trialId).toBe('completed');
      expect(t.phase, t.trialId).toBeTruthy();
    }
  });

  it('writes report.html under its home', () => {
    expect(reportFile).toBe(path.join(home, 'reports', sweepId, 'report.html'));
    expect(existsSync(reportFile)).toBe(true);
    // Drawn after the sweep's final status was stored, so it says how the sweep ended.
    expect(readFileSync(reportFile, 'utf8')).toContain('status <strong>completed</strong>');
  });

  describe.skipIf(skipWithoutChromium('demo.test.ts'))('its report in headless Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('renders offline: phase figure drawn, one row per trial, no console errors', async () => {
      const { page, aborted, consoleErrors } = await openOffline(browser, reportFile);
      const phase = await figureSize(page, 'fig-phase');
      expect(phase.width, 'phase diagram SVG width').toBeGreaterThan(0);
      expect(phase.height, 'phase diagram SVG height').toBeGreaterThan(0);
      expect(await page.locator('#trials tbody tr').count()).toBe(expected.length);
      expect(await page.title()).toContain('synthetic-demo');
      await saveScreenshot(page, 'demo-report.png');
      expect(aborted).toEqual([]);
      expect(consoleErrors).toEqual([]);
      await page.close();
    });
  });

  it('leaves a server that `grokmap server stop` stops, as the demo tells you', async () => {
    const stop = await runCli(['server', 'stop'], demoEnv(home));
    expect(stop.stdout).toBe('stopped\n');
    expect(groupAlive(server!.pid), 'embedded server process group after stop').toBe(false);
  });
});
