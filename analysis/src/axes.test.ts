import { parameterSchema } from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import { axisFor, denormalise, normalise } from './axes.js';
import type { Axis } from './types.js';

const wd: Axis = { name: 'weight_decay', log: true, min: 0.01, max: 10, values: [] };
const frac: Axis = { name: 'data_fraction', log: false, min: 0.1, max: 0.9, values: [] };

describe('normalise', () => {
  it('uses log10 on log axes and inverts exactly', () => {
    expect(normalise(wd, 0.1)).toBeCloseTo(1 / 3, 12);
    expect(denormalise(wd, normalise(wd, 0.37))).toBeCloseTo(0.37, 12);
    expect(normalise(frac, 0.5)).toBeCloseTo(0.5, 12);
    expect(denormalise(frac, 0.25)).toBeCloseTo(0.3, 12);
  });
  it('puts every value of a degenerate axis in the middle', () => {
    expect(normalise({ ...frac, min: 0.3, max: 0.3 }, 0.3)).toBe(0.5);
  });
});

describe('axisFor', () => {
  it('takes the scale and bounds from the spec, and the values from the trials', () => {
    const spec = parameterSchema.parse({ distribution: 'log_uniform_values', min: 0.01, max: 10 });
    expect(axisFor('weight_decay', [0.5, 0.05, 0.5], spec)).toEqual({
      name: 'weight_decay',
      log: true,
      min: 0.01,
      max: 10,
      values: [0.05, 0.5],
    });
  });
  it('stays linear for a narrow categorical range and extends to values outside the spec', () => {
    const spec = parameterSchema.parse({ values: [0.2, 0.4, 0.6] });
    expect(axisFor('data_fraction', [0.8], spec)).toMatchObject({ log: false, min: 0.2, max: 0.8 });
  });
  it('follows the values alone without a spec, and never logs non-positive values', () => {
    expect(axisFor('wd', [0.001, 0.01, 0.1, 1]).log).toBe(true);
    expect(axisFor('wd', [0, 0.01, 0.1, 1]).log).toBe(false);
    expect(axisFor('wd', [])).toMatchObject({ min: 0, max: 1, values: [] });
  });
});
