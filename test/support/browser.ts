import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from './harness.js';

/**
 * Real headless Chromium for the report tests, offline. Needs Debian's
 * chromium (.ci/chromium.sh installs it); under CI a missing browser fails
 * the test, elsewhere the test is skipped with the reason printed.
 */

export const CHROMIUM = process.env.GROKMAP_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const haveChromium = existsSync(CHROMIUM);
const inCi = Boolean(process.env.CI);

/** True when a browser test should skip (no browser, not in CI); prints why. */
export function skipWithoutChromium(testFile: string): boolean {
  if (haveChromium || inCi) return false;
  process.stderr.write(
    `${testFile} skipped: no Chromium at ${CHROMIUM} (install it with .ci/chromium.sh or set GROKMAP_CHROMIUM)\n`,
  );
  return true;
}

export async function launchChromium(): Promise<Browser> {
  if (!haveChromium) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: run .ci/chromium.sh (CI must install it before the tests)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface OfflinePage {
  page: Page;
  /** Every request that tried to leave the disk (all aborted). */
  aborted: string[];
  /** Console errors and uncaught page errors. */
  consoleErrors: string[];
}

/** Open a local HTML file with every non-file: request aborted and console errors collected. */
export async function openOffline(browser: Browser, htmlFile: string): Promise<OfflinePage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const aborted: string[] = [];
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.route('**', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    aborted.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load' });
  return { page, aborted, consoleErrors };
}

/** The laid-out size of the first SVG in a report figure (zero when absent or hidden). */
export async function figureSize(page: Page, figureId: string): Promise<{ width: number; height: number }> {
  const box = await page.locator(`#${figureId} svg`).first().boundingBox();
  return { width: box?.width ?? 0, height: box?.height ?? 0 };
}

/** A full-page screenshot under test-artifacts/, kept for people to look at. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
