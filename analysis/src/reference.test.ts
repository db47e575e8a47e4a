import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  countPhases,
  LIU_RULE,
  loadReferenceGrid,
  referenceGridNames,
  referenceTrials,
} from './reference.js';
import { REFERENCE_GRIDS_FILE } from './reference-file.js';

// CI places shared/ beside the clone, as on development machines.
const referencePath = REFERENCE_GRIDS_FILE;
const json = JSON.parse(readFileSync(referencePath, 'utf8')) as unknown;

describe('Liu et al. (2022) reference grids', () => {
  it('lists both published grids', () => {
    expect(referenceGridNames(json)).toEqual([
      'liu2022-addition-classification',
      'liu2022-addition-decoder-lr-x-wd',
    ]);
  });

  it.each([
    {
      name: 'liu2022-addition-decoder-lr-x-wd',
      cells: 11 * 11,
      counts: { comprehension: 17, grokking: 16, memorization: 49, confusion: 39 },
    },
    {
      name: 'liu2022-addition-classification',
      cells: 16 * 11,
      counts: { comprehension: 30, grokking: 85, memorization: 50, confusion: 11 },
    },
  ])('classifies $name with Liu’s rule to the published counts', ({ name, cells, counts }) => {
    const grid = loadReferenceGrid(json, name);
    expect(grid.rule).toEqual(LIU_RULE);
    expect(grid.cells).toHaveLength(cells);
    expect(countPhases(grid.cells)).toEqual(counts);
  });

  it('accepts the file as text', () => {
    const grid = loadReferenceGrid(JSON.stringify(json), 'liu2022-addition-classification');
    expect(countPhases(grid.cells).grokking).toBe(85);
  });

  it('maps the not-reached sentinel to null and keeps the axes as parameters', () => {
    const grid = loadReferenceGrid(json, 'liu2022-addition-decoder-lr-x-wd');
    const last = grid.cells.at(-1)!;
    expect(last.params).toEqual({ decoder_learning_rate: 0.01, decoder_weight_decay: 10 });
    expect(last.tTrain).toBeNull();
    expect(last.phase).toBe('confusion');
    const trials = referenceTrials(grid);
    expect(trials.map((t) => t.classification?.phase)).toEqual(grid.cells.map((c) => c.phase));
  });

  it('reclassifies with another delay', () => {
    const strict = loadReferenceGrid(json, 'liu2022-addition-decoder-lr-x-wd', { delaySteps: 100_000 });
    expect(countPhases(strict.cells).grokking).toBe(0);
    expect(countPhases(strict.cells).comprehension).toBe(17 + 16);
  });

  it('refuses files of another shape and unknown names, naming the problem', () => {
    expect(() => loadReferenceGrid({ grids: { a: { name: 'a' } } }, 'a')).toThrow(/budget_steps/);
    expect(() => loadReferenceGrid(json, 'nope')).toThrow(/not found/);
  });
});
