import { describe, expect, it } from 'vitest';
import trainer from '../src/index.js';
import { isPrime } from '../src/params.js';

function issues(input: unknown) {
  const r = trainer.params.safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('modular-arithmetic parameters', () => {
  it('fills defaults for an empty spec', () => {
    const p = trainer.params.parse({});
    expect(p.p).toBe(97);
    expect(p.model).toBe('mlp');
    expect(p.grokfast).toBeNull();
    expect(p.batch_size).toBeNull();
    expect(trainer.name).toBe('modular-arithmetic');
  });

  it('refuses a p that is not prime, naming the problem', () => {
    const found = issues({ p: 91 });
    expect(found).toHaveLength(1);
    expect(found[0]!.path).toBe('p');
    expect(found[0]!.message).toMatch(/prime/);
    expect(issues({ p: 89 })).toEqual([]);
  });

  it('refuses data_fraction outside (0, 1)', () => {
    for (const f of [0, 1, -0.2, 1.5])
      expect(issues({ data_fraction: f }).map((i) => i.path)).toEqual(['data_fraction']);
    expect(issues({ data_fraction: 0.3 })).toEqual([]);
  });

  it('refuses model_size ≤ 0 and unknown models, listing every problem by path', () => {
    expect(issues({ model_size: 0 }).map((i) => i.path)).toEqual(['model_size']);
    expect(issues({ model_size: -8 }).map((i) => i.path)).toEqual(['model_size']);
    expect(issues({ model: 'lstm' }).map((i) => i.path)).toEqual(['model']);
    const all = issues({ p: 100, data_fraction: 2, model_size: 0, model: 'lstm' }).map((i) => i.path);
    expect(all.sort()).toEqual(['data_fraction', 'model', 'model_size', 'p']);
  });

  it('refuses unknown keys and bad nested values', () => {
    expect(issues({ weight_decy: 1 }).map((i) => i.path)).toEqual(['']);
    expect(issues({ grokfast: { alpha: 1.5 } }).map((i) => i.path)).toEqual(['grokfast.alpha']);
    expect(issues({ model: 'transformer', model_size: 130, heads: 4 }).map((i) => i.path)).toEqual(['heads']);
  });

  it('isPrime', () => {
    const primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47];
    for (let n = 0; n < 50; n++) expect(isPrime(n)).toBe(primes.includes(n));
  });
});
