import { describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.js';
import { simdGather2, simdScatter2 } from '../src/rows.js';

// The SIMD kernels must give exactly what the JS loops in ops.ts give:
// float32 sums in the same order.
describe('SIMD row kernels', () => {
  const rng = Rng.seeded(5, 'rows');
  const rows = 7;
  const width = 12;
  const n = 40;
  const table = () => Float32Array.from({ length: rows * width }, () => rng.normal());
  const ia = Int32Array.from({ length: n }, () => rng.int(rows));
  const ib = Int32Array.from({ length: n }, () => rng.int(rows));

  it('gather2 equals ta[ia[i]] + tb[ib[i]] in float32', () => {
    const [ta, tb] = [table(), table()];
    const got = simdGather2(ta, tb, ia, ib, width);
    expect(got).not.toBeNull();
    const want = new Float32Array(n * width);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < width; j++) want[i * width + j] = ta[ia[i]! * width + j]! + tb[ib[i]! * width + j]!;
    expect(Array.from(got!)).toEqual(Array.from(want));
  });

  it('scatter2 accumulates rows into both tables in example order, bit for bit', () => {
    const grad = Float32Array.from({ length: n * width }, () => rng.normal());
    // A stale result in the module's memory must not leak into the next call.
    simdScatter2(grad, ia, ib, rows, width);
    const got = simdScatter2(grad, ia, ib, rows, width);
    expect(got).not.toBeNull();
    const want = [new Float32Array(rows * width), new Float32Array(rows * width)];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < width; j++) {
        want[0]![ia[i]! * width + j]! += grad[i * width + j]!;
        want[1]![ib[i]! * width + j]! += grad[i * width + j]!;
      }
    }
    expect(Array.from(got![0])).toEqual(Array.from(want[0]!));
    expect(Array.from(got![1])).toEqual(Array.from(want[1]!));
  });

  it('declines widths that are not a multiple of 4', () => {
    expect(
      simdGather2(
        new Float32Array(6),
        new Float32Array(6),
        ia.map(() => 0),
        ib.map(() => 0),
        3,
      ),
    ).toBeNull();
  });
});
