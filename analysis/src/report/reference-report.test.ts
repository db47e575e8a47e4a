import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REFERENCE_GRIDS_FILE } from '../reference-file.js';
import { REFERENCE_REPORT_FILES, writeReferenceReport } from './reference-report.js';
import { PHASE_COLORS } from './style.js';

const _here = dirname(fileURLToPath(import.meta.url));
// shared/ sits beside the checkout (DESIGN.md, ANCHORS.md).
const REFERENCE = REFERENCE_GRIDS_FILE;

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('writeReferenceReport', () => {
  it.each([
    [
      'liu2022-addition-decoder-lr-x-wd',
      { comprehension: 17, grokking: 16, memorization: 49, confusion: 39 },
    ],
    ['liu2022-addition-classification', { comprehension: 30, grokking: 85, memorization: 50, confusion: 11 }],
  ])('draws %s with the published phase counts and all four phase colours', async (name, counts) => {
    const dir = await mkdtemp(join(tmpdir(), 'grokmap-ref-'));
    dirs.push(dir);
    const result = await writeReferenceReport(REFERENCE, name, dir);
    expect(result.counts).toEqual(counts);
    expect(result.files).toEqual([...REFERENCE_REPORT_FILES]);
    const svg = (await readFile(join(dir, 'phase-diagram.svg'), 'utf8')).toLowerCase();
    for (const phase of ['comprehension', 'grokking', 'memorization', 'confusion'] as const) {
      // Fully agreeing cells are drawn in (nearly) their phase colour: check the legend swatch.
      expect(svg).toContain(PHASE_COLORS[phase].toLowerCase());
    }
    expect(svg).toContain('decoder learning rate (log scale)');
    expect(svg).toContain('decoder weight decay');
    const cells = JSON.parse(await readFile(join(dir, 'cells.json'), 'utf8'));
    expect(cells.cells).toHaveLength(Object.values(counts).reduce((a, b) => a + b, 0));
    const png = await readFile(join(dir, 'phase-diagram.png'));
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
  });

  it('names the known grids when asked for an unknown one', async () => {
    await expect(writeReferenceReport(REFERENCE, 'no-such-grid', tmpdir())).rejects.toThrow(
      /liu2022-addition-classification/,
    );
  });
});
