import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HARD_TRIAL_CAP } from './spec.js';
import { type SpecProblem, validateSpecText } from './validate.js';

// A strict trainer schema standing in for a plugin's own (the real plugins are tested with it in test/).
const toyTrainer = {
  params: z.strictObject({
    weight_decay: z.number().nonnegative(),
    data_fraction: z.number().gt(0).lt(1),
    seed: z.number().int().optional(),
    max_steps: z.number().int().positive().optional(),
  }),
};
const lookup = (name: string) => (name === 'toy' ? toyTrainer : undefined);

const GOOD = `
name: toy-sweep
trainer: toy
method: grid
budget: { trials: 6, parallel: 2 }
parameters:
  weight_decay: { values: [0.1, 1, 10] }
  data_fraction: { values: [0.3, 0.6] }
fixed: { max_steps: 100 }
`;

function problems(text: string): SpecProblem[] {
  const r = validateSpecText(text, lookup);
  if (r.ok) throw new Error('expected the spec to be refused');
  return r.problems;
}

function paths(text: string): string[] {
  return problems(text).map((p) => p.path);
}

describe('validateSpecText', () => {
  it('accepts a good grid spec and fills defaults', () => {
    const r = validateSpecText(GOOD, lookup);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.spec.phase).toEqual({ threshold: 0.99, delay_steps: 1000 });
      expect(r.spec.resources.queue).toBe('cpu');
    }
  });

  it('refuses an empty file', () => {
    expect(problems('')[0]!.message).toMatch(/empty/);
    expect(problems('   \n')[0]!.message).toMatch(/empty/);
  });

  it('refuses malformed YAML and gives its line', () => {
    const p = problems('name: x\ntrainer: toy\nparameters:\n  a: { values: [1, 2\n');
    expect(p[0]!.message).toMatch(/malformed YAML/);
    expect(p[0]!.line).toBeGreaterThanOrEqual(4);
  });

  it('names unknown keys with their path and line', () => {
    const p = problems(GOOD.replace('method: grid', 'method: grid\nmehtod_typo: 1'));
    const typo = p.find((x) => x.path === 'mehtod_typo');
    expect(typo?.message).toMatch(/unknown key/);
    expect(typo?.line).toBe(5);
    expect(paths(GOOD.replace('parallel: 2', 'parallel: 2, paralel: 3'))).toContain('budget.paralel');
  });

  it('names wrong types by path', () => {
    expect(paths(GOOD.replace('trials: 6', 'trials: "six"'))).toContain('budget.trials');
    expect(paths(GOOD.replace('[0.3, 0.6]', '0.3'))).toContain('parameters.data_fraction.values');
  });

  it('refuses zero or negative log-uniform bounds and min above max', () => {
    const logSpec = GOOD.replace('method: grid', 'method: random').replace(
      '{ values: [0.1, 1, 10] }',
      '{ distribution: log_uniform_values, min: 0, max: -1 }',
    );
    const p = paths(logSpec);
    expect(p).toContain('parameters.weight_decay.min');
    expect(p).toContain('parameters.weight_decay.max');
    const minMax = GOOD.replace('method: grid', 'method: random').replace(
      '{ values: [0.1, 1, 10] }',
      '{ distribution: uniform, min: 5, max: 1 }',
    );
    expect(problems(minMax).find((x) => x.path === 'parameters.weight_decay.min')?.message).toMatch(
      /above max/,
    );
  });

  it('refuses an unknown method and an unknown trainer', () => {
    expect(paths(GOOD.replace('method: grid', 'method: hyperband'))).toContain('method');
    expect(
      problems(GOOD.replace('trainer: toy', 'trainer: nope')).find((x) => x.path === 'trainer')?.message,
    ).toMatch(/unknown trainer 'nope'/);
  });

  it('refuses unsafe names', () => {
    for (const bad of ['../etc', 'a/b', 'a b', '.hidden', 'x..y', '']) {
      expect(paths(GOOD.replace('name: toy-sweep', `name: "${bad}"`))).toContain('name');
    }
  });

  it('refuses a grid over budget with its size, and one over the hard cap', () => {
    const p = problems(GOOD.replace('trials: 6', 'trials: 5'));
    expect(p[0]!.path).toBe('budget.trials');
    expect(p[0]!.message).toMatch(/grid has 6 points/);
    const huge = GOOD.replace(
      '{ values: [0.3, 0.6] }',
      '{ distribution: int_uniform, min: 1, max: 2000000 }',
    );
    expect(problems(huge).some((x) => x.message.includes(`hard cap of ${HARD_TRIAL_CAP}`))).toBe(true);
  });

  it('refuses continuous parameters in a grid', () => {
    const p = problems(
      GOOD.replace('{ values: [0.3, 0.6] }', '{ distribution: uniform, min: 0.1, max: 0.9 }'),
    );
    expect(p[0]!.path).toBe('parameters.data_fraction');
  });

  it("reports parameters the plugin's schema rejects, by spec path", () => {
    const p = problems(GOOD.replace('[0.3, 0.6]', '[0.3, 1.5]'));
    expect(p).toHaveLength(1);
    expect(p[0]!.path).toBe('parameters.data_fraction');
    expect(p[0]!.message).toMatch(/rejected by trainer 'toy'.*1\.5/);
    expect(paths(GOOD.replace('max_steps: 100', 'max_steps: 100, bogus: 1'))).toContain('fixed');
  });

  it('requires a metric for bayes', () => {
    expect(paths(GOOD.replace('method: grid', 'method: bayes'))).toContain('metric');
  });

  it('refuses a pack larger than the trials in flight, and a pack below 1', () => {
    const big = problems(`${GOOD}resources: { pack: 8 }\n`);
    expect(big.map((p) => p.path)).toEqual(['resources.pack']);
    expect(big[0]!.message).toMatch(/larger than budget.parallel \(2\)/);
    expect(paths(`${GOOD}resources: { pack: 0 }\n`)).toEqual(['resources.pack']);
    expect(validateSpecText(`${GOOD}resources: { pack: 2 }\n`, lookup).ok).toBe(true);
  });

  it('refuses proposal-round settings a method does not read, and a bayes batch above the fleet', () => {
    const bayes = GOOD.replace(
      'method: grid',
      'method: bayes\nmetric: { name: steps_to_generalize, goal: minimize }',
    );
    const lag = problems(GOOD.replace('parallel: 2 }', 'parallel: 2, lag: 4 }'));
    expect(lag.map((p) => p.path)).toEqual(['budget.lag']);
    expect(lag[0]!.message).toMatch(/read only by bayes and adaptive sweeps, not grid/);
    expect(paths(`${GOOD}bayes: { batch: 1 }\n`)).toEqual(['bayes']);
    const wide = problems(`${bayes}bayes: { batch: 3 }\n`);
    expect(wide.map((p) => p.path)).toEqual(['bayes.batch']);
    expect(wide[0]!.message).toMatch(/\(3\) is larger than budget.parallel \(2\)/);
    expect(
      validateSpecText(
        `${bayes.replace('parallel: 2 }', 'parallel: 2, lag: 9 }')}bayes: { batch: 1 }\n`,
        lookup,
      ).ok,
    ).toBe(true);
  });
});
