import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support/harness.js';

/**
 * `grokmap report --reference <grid>` as a user runs it: the CLI, from the
 * grids shipped with grokmap, no sweep and no server. The counts are the
 * ones shared/ANCHORS.md gives for Liu et al.'s rule.
 */
const env = {
  ...process.env,
  GROKMAP_HOME: tempDir('report-cli-home'),
  GROKMAP_TEMPORAL_ADDRESS: '127.0.0.1:1',
};

describe('grokmap report --reference', () => {
  it.each([
    [
      'liu2022-addition-decoder-lr-x-wd',
      { comprehension: 17, grokking: 16, memorization: 49, confusion: 39 },
    ],
    ['liu2022-addition-classification', { comprehension: 30, grokking: 85, memorization: 50, confusion: 11 }],
  ])('draws %s: figures and the classified cells with the published counts', async (grid, counts) => {
    const out = path.join(tempDir('report-cli-out'), grid);
    const res = await runCli(['report', '--reference', grid, '--out', out], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe(path.join(out, 'phase-diagram.png'));
    for (const file of ['phase-diagram.svg', 'phase-diagram.png', 'grokking-delay.svg', 'cells.json'])
      expect(existsSync(path.join(out, file)), file).toBe(true);
    // A real PNG, not an empty file.
    expect(readFileSync(path.join(out, 'phase-diagram.png')).subarray(1, 4).toString()).toBe('PNG');
    const cells = JSON.parse(readFileSync(path.join(out, 'cells.json'), 'utf8')) as { counts: unknown };
    expect(cells.counts).toEqual(counts);
  });

  it('names the grids it has when asked for one it does not', async () => {
    const res = await runCli(['report', '--reference', 'liu2022-no-such-grid'], env);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/no grid 'liu2022-no-such-grid'/);
    expect(res.stderr).toMatch(/liu2022-addition-classification/);
  });
});
