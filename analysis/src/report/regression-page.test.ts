import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_THRESHOLDS } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { compareSweeps } from '../regression.js';
import { syntheticTrials } from '../testing/ground-truth.js';
import type { AnalysedTrial } from '../types.js';
import { type RegressionSide, writeRegressionPage } from './regression-page.js';

const grid = { weightDecays: [0.01, 0.1, 1], fractions: [0.2, 0.45, 0.7], seeds: 2, jitter: 0 };

function side(id: string, trials: AnalysedTrial[]): RegressionSide {
  return { id, name: 'nightly', spec: {}, trials };
}

describe('writeRegressionPage', () => {
  it('draws both phase maps side by side and outlines the changed cells', async () => {
    const before = syntheticTrials(grid);
    const after = syntheticTrials({ ...grid, groups: [{ params: {}, shift: 0.3 }] });
    const comparison = compareSweeps(before, after, {
      cellKeys: ['weight_decay', 'data_fraction'],
      along: 'data_fraction',
      by: 'weight_decay',
      thresholds: DEFAULT_THRESHOLDS,
      bootstrap: 50,
    });
    expect(comparison.changedCells.length).toBeGreaterThan(0);
    const file = join(await mkdtemp(join(tmpdir(), 'regression-page-')), 'regression.html');
    await writeRegressionPage(
      {
        verdict: {
          ...comparison,
          sweepId: 'run-2',
          baselineSweepId: 'run-1',
          scheduleName: 'n',
          specName: 'nightly',
        },
        baseline: side('run-1', before),
        current: side('run-2', after),
      },
      file,
    );
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<strong>regressed</strong>');
    expect(html).toContain('baseline: run-1');
    expect(html).toContain('this run: run-2');
    // One red outline per changed cell on each of the two panels.
    const outlines = html.match(/stroke="#D62728"/gi) ?? [];
    expect(outlines.length).toBe(2 * comparison.changedCells.length);
  });
});
