import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adaptiveOptionsSchema } from './adaptive-options.js';
import { type SpecProblem, validateSpecText } from './validate.js';

const toyTrainer = { params: z.looseObject({}) };
const lookup = (name: string) => (name === 'toy' ? toyTrainer : undefined);

function spec(adaptive: string): string {
  return `
name: toy-adaptive
trainer: toy
method: adaptive
budget: { trials: 40, parallel: 4 }
parameters:
  weight_decay: { distribution: log_uniform_values, min: 0.01, max: 10 }
  data_fraction: { min: 0.1, max: 0.9 }
${adaptive}
`;
}

function problems(text: string): SpecProblem[] {
  const r = validateSpecText(text, lookup);
  return r.ok ? [] : r.problems;
}

describe('adaptive options', () => {
  it('fills defaults: every boundary, max_change 0.02, patience 3', () => {
    expect(adaptiveOptionsSchema.parse({})).toEqual({
      target: 'phase',
      stop_when: { max_change: 0.02, patience: 3 },
    });
  });

  it('accepts a boundary target and batch settings in a spec', () => {
    const text = spec(
      'adaptive: { target: { boundary: [grokking, memorization] }, batch: 8, initial: 16, stop_when: { patience: 4 } }',
    );
    const r = validateSpecText(text, lookup);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.spec.adaptive).toEqual({
        target: { boundary: ['grokking', 'memorization'] },
        batch: 8,
        initial: 16,
        stop_when: { max_change: 0.02, patience: 4 },
      });
    }
  });

  it('refuses bad options with their paths', () => {
    const paths = problems(
      spec(
        'adaptive: { target: { boundary: [grokking, grokking] }, batch: 0, stop_when: { max_change: 2, patiense: 1 } }',
      ),
    ).map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'adaptive.stop_when.max_change',
        'adaptive.stop_when.patiense',
        'adaptive.batch',
        'adaptive.target.boundary',
      ]),
    );
  });

  it('refuses an unknown phase and an unknown key', () => {
    const paths = problems(spec('adaptive: { target: { boundary: [grokking, melting] }, oops: 1 }')).map(
      (p) => p.path,
    );
    expect(paths.some((p) => p.startsWith('adaptive.target'))).toBe(true);
    expect(paths).toContain('adaptive.oops');
  });
});
