import { describe, expect, it } from 'vitest';
import { splitIntoPacks } from './packing.js';

describe('splitIntoPacks', () => {
  const trials = [
    { p: 97, wd: 0.1 },
    { p: 59, wd: 0.1 },
    { p: 97, wd: 1 },
    { p: 97, wd: 3 },
    { p: 59, wd: 3 },
  ];
  it('keeps trials of different shapes apart and caps each pack', () => {
    expect(splitIntoPacks(trials, (t) => t, { maxTrials: 2, shapeKeys: ['p'] })).toEqual([
      [0, 2],
      [1, 4],
      [3],
    ]);
  });
  it('puts everything in one pack when no key differs', () => {
    expect(splitIntoPacks(trials, (t) => t, { maxTrials: 8, shapeKeys: [] })).toEqual([[0, 1, 2, 3, 4]]);
  });
  it('treats a missing shape key as its own value', () => {
    expect(splitIntoPacks([{ a: 1 }, {}, { a: 1 }], (t) => t, { maxTrials: 8, shapeKeys: ['a'] })).toEqual([
      [0, 2],
      [1],
    ]);
  });
});
