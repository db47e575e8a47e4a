import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ReportInput, type ReportTrial, writeReport } from '@grokmap/analysis/report';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  figureSize,
  launchChromium,
  openOffline,
  saveScreenshot,
  skipWithoutChromium,
} from '../support/browser.js';

/**
 * The report as a person sees it: written from a realistic sweep, opened from
 * disk in real headless Chromium with every network request blocked
 * (see test/support/browser.ts for when it skips).
 */

/** A sweep over a closed-form phase rule, with failures, a cancellation, a running and a curve-less trial. */
function realisticInput(): ReportInput {
  const trials: ReportTrial[] = [];
  const threshold = 0.99;
  for (const size of [64, 256]) {
    for (const wd of [0.01, 0.03, 0.1, 0.3, 1, 3, 10]) {
      for (const f of [0.2, 0.35, 0.5, 0.65, 0.8]) {
        for (const seed of [0, 1]) {
          const i = trials.length;
          const params = { weight_decay: wd, data_fraction: f, model_size: size, seed };
          if (i % 19 === 7) {
            trials.push({
              trialId: `trial-${i}`,
              params,
              status: 'error',
              phase: null,
              tTrain: null,
              tVal: null,
              ratio: null,
              error: 'worker lost <node-3>',
            });
            continue;
          }
          // Closed form: more data or more weight decay generalizes sooner; a wide model needs less data.
          const critical =
            0.55 - 0.1 * (Math.log10(wd) + 2) - (size === 256 ? 0.05 : 0) + (seed ? 0.02 : -0.02);
          const tTrain = f < 0.25 && wd < 0.05 ? null : Math.round(300 + 500 * (1 - f));
          const tVal =
            tTrain === null || f < critical
              ? null
              : Math.round(tTrain * (1 + 30 * Math.max(0, 0.85 - 0.15 * (Math.log10(wd) + 2) - f)));
          const phase =
            tTrain === null
              ? 'confusion'
              : tVal === null
                ? 'memorization'
                : tVal - tTrain >= 1000
                  ? 'grokking'
                  : 'comprehension';
          const steps = Array.from({ length: 30 }, (_, k) => Math.round(10 * 2000 ** (k / 29)));
          const acc = (t: number | null, s: number) =>
            t === null ? 0.4 * (s / 20000) : s >= t ? 1 : threshold * (s / t) ** 2;
          trials.push({
            trialId: `trial-${i}`,
            params,
            status: 'completed',
            phase,
            tTrain,
            tVal,
            ratio: tTrain !== null && tVal !== null ? tVal / tTrain : null,
            curves: steps.map((step) => ({ step, trainAcc: acc(tTrain, step), valAcc: acc(tVal, step) })),
          });
        }
      }
    }
  }
  const none = { phase: null, tTrain: null, tVal: null, ratio: null };
  trials.push({
    trialId: 'cancelled-0',
    params: { weight_decay: 1, data_fraction: 0.5, model_size: 64, seed: 2 },
    status: 'cancelled',
    ...none,
  });
  trials.push({
    trialId: 'running-0',
    params: { weight_decay: 3, data_fraction: 0.5, model_size: 64, seed: 2 },
    status: 'running',
    ...none,
  });
  delete trials.find((t) => t.status === 'completed')!.curves;
  return {
    sweep: {
      id: 'browser-sweep',
      name: 'browser check <modadd>',
      spec: { trainer: 'synthetic', method: 'grid', parameters: { weight_decay: { values: [0.01, 10] } } },
      status: 'completed',
    },
    trials,
    phaseRule: { threshold, delaySteps: 1000 },
  };
}

describe.skipIf(skipWithoutChromium('report-browser.test.ts'))('report.html in headless Chromium', () => {
  let browser: Browser;
  let dir: string;
  const input = realisticInput();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'grokmap-browser-'));
    await writeReport(input, dir);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('renders offline: figures drawn, one row per trial, no console errors, no request leaves the disk', async () => {
    const { page, aborted, consoleErrors } = await openOffline(browser, join(dir, 'report.html'));

    const phase = await figureSize(page, 'fig-phase');
    expect(phase.width, 'phase diagram SVG is laid out').toBeGreaterThan(100);
    expect(phase.height, 'phase diagram SVG is laid out').toBeGreaterThan(100);
    for (const id of ['fig-delay', 'fig-curves']) {
      expect((await figureSize(page, id)).width, id).toBeGreaterThan(100);
    }

    expect(await page.locator('#trials tbody tr').count()).toBe(input.trials.length);
    expect(await page.locator('#missing').textContent()).toContain('cancelled-0');
    expect(await page.title()).toBe('grokmap report — browser check <modadd>');

    await saveScreenshot(page, 'report.png');

    expect(aborted).toEqual([]);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });
});
