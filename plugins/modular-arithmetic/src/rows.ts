/**
 * 128-bit SIMD row lookups and scatter-adds for the MLP's first layer, in a
 * small WebAssembly module of its own (source: simd/rows.wat). V8 does not
 * vectorize the equivalent JS loops, which cost as much as a hidden-layer
 * matMul on the wasm backend. The arithmetic is float32 addition in the same
 * order as the JS loops in ops.ts, so both give bit-identical results.
 *
 * Regenerate the bytes after editing rows.wat with wabt
 * (`parseWat(name, text, { simd: true }).toBinary({}).buffer`, base64).
 */
const WASM_BASE64 =
  'AGFzbQEAAAABCwFgB39/f39/f38AAwMCAAAFAwEAAQcfAwZtZW1vcnkCAAdnYXRoZXIyAAAIc2NhdHRlcjIAAQquAgKGAQEFfyAGQQJ0IQcgAyAFQQJ0aiEIAkADQCADIAhPDQEgASADKAIAIAdsaiEJIAIgBCgCACAHbGohCkEAIQsDQCAAIAtqIAkgC2r9AAQAIAogC2r9AAQA/eQB/QsEACALQRBqIQsgCyAHSQ0ACyAAIAdqIQAgA0EEaiEDIARBBGohBAwACwsLowECBX8BeyAGQQJ0IQcgAyAFQQJ0aiEIAkADQCADIAhPDQEgASADKAIAIAdsaiEJIAIgBCgCACAHbGohCkEAIQsDQCAAIAtq/QAEACEMIAkgC2ogCSALav0ABAAgDP3kAf0LBAAgCiALaiAKIAtq/QAEACAM/eQB/QsEACALQRBqIQsgCyAHSQ0ACyAAIAdqIQAgA0EEaiEDIARBBGohBAwACwsL';

/** The slice of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

interface Exports {
  memory: WasmMemory;
  gather2(out: number, ta: number, tb: number, ia: number, ib: number, n: number, w: number): void;
  scatter2(g: number, ga: number, gb: number, ia: number, ib: number, n: number, w: number): void;
}

let instance: Exports | null | undefined;

/** The module, or null where WebAssembly SIMD is unavailable (callers then use JS loops). */
function kernels(): Exports | null {
  if (instance !== undefined) return instance;
  try {
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const bytes = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0));
    instance = new wasm.Instance(new wasm.Module(bytes)).exports as Exports;
  } catch {
    instance = null;
  }
  return instance;
}

/**
 * Copies the two index lists into the module's memory, followed by regions
 * of the given byte sizes (16-byte aligned), growing memory to fit. Returns
 * the module, the memory and the offsets: [ia, ib, ...regions]; null when
 * SIMD is unavailable or the width is not a multiple of 4.
 */
function stage(ia: Int32Array, ib: Int32Array, width: number, sizes: number[]) {
  const k = kernels();
  if (!k || width % 4 !== 0) return null;
  const offsets: number[] = [];
  let end = 0;
  for (const size of [4 * ia.length, 4 * ib.length, ...sizes]) {
    offsets.push(end);
    end += Math.ceil(size / 16) * 16;
  }
  const missing = end - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  const buf = k.memory.buffer;
  new Int32Array(buf, offsets[0], ia.length).set(ia);
  new Int32Array(buf, offsets[1], ib.length).set(ib);
  return { k, buf, at: offsets as [number, number, number, number, number] };
}

/**
 * ta[ia[i]] + tb[ib[i]] for every row i, as a view into the module's memory
 * (valid until the next call here), or null when SIMD is unavailable or the
 * width is not a multiple of 4.
 */
export function simdGather2(
  ta: Float32Array,
  tb: Float32Array,
  ia: Int32Array,
  ib: Int32Array,
  width: number,
): Float32Array | null {
  const n = ia.length;
  const s = stage(ia, ib, width, [4 * ta.length, 4 * tb.length, 4 * n * width]);
  if (!s) return null;
  const [oa, ob, ota, otb, out] = s.at;
  new Float32Array(s.buf, ota, ta.length).set(ta);
  new Float32Array(s.buf, otb, tb.length).set(tb);
  s.k.gather2(out, ota, otb, oa, ob, n, width);
  return new Float32Array(s.buf, out, n * width);
}

/**
 * For every row i, adds grad row i into row ia[i] of a rows × width table
 * and into row ib[i] of a second one; returns both (fresh arrays), or null
 * when SIMD is unavailable or the width is not a multiple of 4.
 */
export function simdScatter2(
  grad: Float32Array,
  ia: Int32Array,
  ib: Int32Array,
  rows: number,
  width: number,
): [Float32Array, Float32Array] | null {
  const n = ia.length;
  const size = rows * width;
  const s = stage(ia, ib, width, [4 * n * width, 4 * size, 4 * size]);
  if (!s) return null;
  const [oa, ob, og, ga, gb] = s.at;
  new Float32Array(s.buf, og, n * width).set(grad.subarray(0, n * width));
  new Float32Array(s.buf, ga, (gb - ga) / 4 + size).fill(0);
  s.k.scatter2(og, ga, gb, oa, ob, n, width);
  return [new Float32Array(s.buf, ga, size).slice(), new Float32Array(s.buf, gb, size).slice()];
}
