import type { Operation } from './params.js';
import { Rng } from './rng.js';

/** Every ordered pair (a, b) of the task once, with its answer, split into train and validation. */
export interface Dataset {
  p: number;
  train: Examples;
  val: Examples;
}

export interface Examples {
  a: Int32Array;
  b: Int32Array;
  y: Int32Array;
  readonly length: number;
}

export function modInverse(b: number, p: number): number {
  // Fermat: b^(p-2) mod p, with exact integer arithmetic.
  let result = 1n;
  let base = BigInt(b % p);
  let e = BigInt(p - 2);
  const m = BigInt(p);
  while (e > 0n) {
    if (e & 1n) result = (result * base) % m;
    base = (base * base) % m;
    e >>= 1n;
  }
  return Number(result);
}

export function answer(op: Operation, a: number, b: number, p: number): number {
  switch (op) {
    case 'a+b':
      return (a + b) % p;
    case 'a-b':
      return (((a - b) % p) + p) % p;
    case 'a*b':
      return (a * b) % p;
    case 'a/b':
      return (a * modInverse(b, p)) % p;
  }
}

/**
 * All pairs in a fixed order, shuffled by a seeded PRNG; the first
 * round(fraction · pairs) are the training set. Same seed, same split on any machine.
 */
export function makeDataset(p: number, op: Operation, fraction: number, seed: number): Dataset {
  const pairs: Array<[number, number]> = [];
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      if (op === 'a/b' && b === 0) continue;
      pairs.push([a, b]);
    }
  }
  const order = Rng.seeded(seed, 'split').shuffle(Int32Array.from(pairs.keys()));
  const nTrain = Math.min(pairs.length - 1, Math.max(1, Math.round(fraction * pairs.length)));
  const pick = (idx: Int32Array): Examples => {
    const a = new Int32Array(idx.length);
    const b = new Int32Array(idx.length);
    const y = new Int32Array(idx.length);
    idx.forEach((k, i) => {
      const [x1, x2] = pairs[k]!;
      a[i] = x1;
      b[i] = x2;
      y[i] = answer(op, x1, x2, p);
    });
    return { a, b, y, length: idx.length };
  };
  return { p, train: pick(order.subarray(0, nTrain)), val: pick(order.subarray(nTrain)) };
}

export function subset(ex: Examples, idx: Int32Array): Examples {
  const a = new Int32Array(idx.length);
  const b = new Int32Array(idx.length);
  const y = new Int32Array(idx.length);
  idx.forEach((k, i) => {
    a[i] = ex.a[k]!;
    b[i] = ex.b[k]!;
    y[i] = ex.y[k]!;
  });
  return { a, b, y, length: idx.length };
}

export function slice(ex: Examples, start: number, end: number): Examples {
  return {
    a: ex.a.subarray(start, end),
    b: ex.b.subarray(start, end),
    y: ex.y.subarray(start, end),
    length: Math.max(0, Math.min(end, ex.length) - start),
  };
}
