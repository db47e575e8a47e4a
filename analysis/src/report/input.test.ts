import { describe, expect, it } from 'vitest';
import { type ReportInput, resolveAxes } from './input.js';

function input(
  params: Record<string, unknown>[],
  spec: unknown = {},
  axes?: ReportInput['axes'],
): ReportInput {
  return {
    sweep: { id: 's', name: 's', spec, status: 'completed' },
    trials: params.map((p, i) => ({
      trialId: `t${i}`,
      params: p,
      status: 'completed',
      phase: 'grokking',
      tTrain: 1,
      tVal: 2000,
      ratio: 2000,
    })),
    phaseRule: { threshold: 0.99, delaySteps: 1000 },
    ...(axes ? { axes } : {}),
  };
}

const grid = [0.01, 0.1, 1, 10].flatMap((wd) =>
  [0.2, 0.5].map((f) => ({ weight_decay: wd, data_fraction: f, model_size: 64, seed: 0 })),
);

describe('resolveAxes', () => {
  it('defaults to weight decay × data fraction, panels by model size, seeds by seed', () => {
    const warnings: string[] = [];
    const axes = resolveAxes(input(grid), warnings);
    expect(axes.x?.name).toBe('weight_decay');
    expect(axes.y?.name).toBe('data_fraction');
    expect(axes.facet).toBe('model_size');
    expect(axes.seed).toBe('seed');
    expect(axes.x?.log).toBe(true); // values span three decades
    expect(axes.y?.log).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('takes the scale from a distribution in the spec, and judges a list of values by the values seen', () => {
    const uniform = { parameters: { weight_decay: { distribution: 'uniform', min: 0.01, max: 10 } } };
    expect(resolveAxes(input(grid, uniform), []).x?.log).toBe(false);
    const logUniform = {
      parameters: { weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 } },
    };
    expect(resolveAxes(input(grid, logUniform), []).x?.log).toBe(true);
    // Only two listed values, but the trials span three decades.
    const shortList = { parameters: { weight_decay: { values: [0.01, 10] } } };
    expect(resolveAxes(input(grid, shortList), []).x?.log).toBe(true);
  });

  it('never draws a log axis through zero', () => {
    const withZero = grid.map((p) => ({ ...p, weight_decay: p.weight_decay === 0.01 ? 0 : p.weight_decay }));
    expect(resolveAxes(input(withZero), []).x?.log).toBe(false);
    const warnings: string[] = [];
    expect(resolveAxes(input(withZero, {}, { xLog: true }), warnings).x?.log).toBe(false);
    expect(warnings[0]).toMatch(/values ≤ 0/);
  });

  it('falls back to another varying numeric parameter and says so', () => {
    const params = [1, 2, 3].flatMap((lr) => [4, 5].map((w) => ({ lr, width: w, seed: 0 })));
    const warnings: string[] = [];
    const axes = resolveAxes(input(params), warnings);
    expect([axes.x?.name, axes.y?.name]).toEqual(['lr', 'width']);
    expect(axes.facet).toBeNull();
    expect(warnings).toHaveLength(2);
  });

  it('honours explicit hints', () => {
    const axes = resolveAxes(input(grid, {}, { x: 'data_fraction', y: 'weight_decay', facet: null }), []);
    expect(axes.x?.name).toBe('data_fraction');
    expect(axes.y?.name).toBe('weight_decay');
    expect(axes.facet).toBeNull();
  });
});
