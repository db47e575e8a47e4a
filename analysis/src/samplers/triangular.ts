/** Rows of a lower-triangular matrix L: row i needs entries 0..i. */
export type LowerRows = readonly ArrayLike<number>[];

/** L⁻¹ b by forward substitution, for the samplers' Cholesky factors. */
export function forwardSolve(l: LowerRows, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const li = l[i]!;
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= li[k]! * out[k]!;
    out[i] = s / li[i]!;
  }
  return out;
}
