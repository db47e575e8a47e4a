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
  'AGFzbQEAAAABHQNgB39/f39/f38AYAh/f39/f39/fwBgBH9/f38AAwYFAAAAAQIFAwEAAQdJBgZtZW1vcnkCAAdnYXRoZXIyAAAIc2NhdHRlcjIAAQtnYXRoZXIycmVsdQACDHNjYXR0ZXIycmVsdQADCnRyYW5zcG9zZTQABAqUCAWGAQEFfyAGQQJ0IQcgAyAFQQJ0aiEIAkADQCADIAhPDQEgASADKAIAIAdsaiEJIAIgBCgCACAHbGohCkEAIQsDQCAAIAtqIAkgC2r9AAQAIAogC2r9AAQA/eQB/QsEACALQRBqIQsgCyAHSQ0ACyAAIAdqIQAgA0EEaiEDIARBBGohBAwACwsLowECBX8BeyAGQQJ0IQcgAyAFQQJ0aiEIAkADQCADIAhPDQEgASADKAIAIAdsaiEJIAIgBCgCACAHbGohCkEAIQsDQCAAIAtq/QAEACEMIAkgC2ogCSALav0ABAAgDP3kAf0LBAAgCiALaiAKIAtq/QAEACAM/eQB/QsEACALQRBqIQsgCyAHSQ0ACyAAIAdqIQAgA0EEaiEDIARBBGohBAwACwsLmwEBBX8gBkECdCEHIAMgBUECdGohCAJAA0AgAyAITw0BIAEgAygCACAHbGohCSACIAQoAgAgB2xqIQpBACELA0AgACALaiAJIAtq/QAEACAKIAtq/QAEAP3kAf0MAAAAAAAAAAAAAAAAAAAAAP3pAf0LBAAgC0EQaiELIAsgB0kNAAsgACAHaiEAIANBBGohAyAEQQRqIQQMAAsLC8kBAgV/AXsgB0ECdCEIIAQgBkECdGohCQJAA0AgBCAJTw0BIAIgBCgCACAIbGohCiADIAUoAgAgCGxqIQtBACEMA0AgACAMav0ABAAgASAMav0ABAD9DAAAAAAAAAAAAAAAAAAAAAD9RP1OIQ0gCiAMaiAKIAxq/QAEACAN/eQB/QsEACALIAxqIAsgDGr9AAQAIA395AH9CwQAIAxBEGohDCAMIAhJDQALIAAgCGohACABIAhqIQEgBEEEaiEEIAVBBGohBQwACwsL/AICBn8IeyADQQJ0IQQgAkECdCEFQQAhBgJAA0AgBkEEaiACSw0BIAAgBiAEbGohCCABIAZBAnRqIQlBACEHA0AgCP0ABAAhCiAIIARq/QAEACELIAggBEEBdGr9AAQAIQwgCCAEQQNsav0ABAAhDSAKIAv9DQABAgMQERITBAUGBxQVFhchDiAKIAv9DQgJCgsYGRobDA0ODxwdHh8hDyAMIA39DQABAgMQERITBAUGBxQVFhchECAMIA39DQgJCgsYGRobDA0ODxwdHh8hESAJIA4gEP0NAAECAwQFBgcQERITFBUWF/0LBAAgCSAFaiEJIAkgDiAQ/Q0ICQoLDA0ODxgZGhscHR4f/QsEACAJIAVqIQkgCSAPIBH9DQABAgMEBQYHEBESExQVFhf9CwQAIAkgBWohCSAJIA8gEf0NCAkKCwwNDg8YGRobHB0eH/0LBAAgCSAFaiEJIAhBEGohCCAHQQRqIQcgByADSQ0ACyAGQQRqIQYMAAsLCw==';

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
  gather2relu(out: number, ta: number, tb: number, ia: number, ib: number, n: number, w: number): void;
  transpose4(src: number, outT: number, n: number, w: number): void;
  scatter2(g: number, ga: number, gb: number, ia: number, ib: number, n: number, w: number): void;
  scatter2relu(
    g: number,
    act: number,
    ga: number,
    gb: number,
    ia: number,
    ib: number,
    n: number,
    w: number,
  ): void;
}

let compiled: object | null | undefined;

/** A fresh instance (own memory), or null where WebAssembly SIMD is unavailable (callers then use JS loops). */
function instantiate(): Exports | null {
  const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (compiled === undefined) {
    try {
      compiled = new wasm!.Module(Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0)));
    } catch {
      compiled = null;
    }
  }
  try {
    return compiled ? (new wasm!.Instance(compiled).exports as Exports) : null;
  } catch {
    return null;
  }
}

let shared: Exports | null | undefined;

/** The instance shared by the stateless functions below. */
function kernels(): Exports | null {
  if (shared === undefined) shared = instantiate();
  return shared;
}

/** Byte offsets of regions of the given sizes, 16-byte aligned, after growing memory to fit them. */
function regions(k: Exports, sizes: number[]): number[] {
  const offsets: number[] = [];
  let end = 0;
  for (const size of sizes) {
    offsets.push(end);
    end += Math.ceil(size / 16) * 16;
  }
  const missing = end - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
  return offsets;
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
  const offsets = regions(k, [4 * ia.length, 4 * ib.length, ...sizes]);
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

/**
 * The MLP's first layer with ReLU: act = max(ta[ia] + tb[ib], 0) forward, and
 * backward the scatter-add of d act where act > 0, so that neither the ReLU
 * nor its derivative needs a backend kernel (two fewer full passes and no
 * pre-activation tensor). The activations stay in this instance's memory
 * between forward and backward; each model gets its own instance.
 */
export class SimdReluPair {
  private last: { n: number; rows: number; width: number; at: number[] } | null = null;

  private constructor(private readonly k: Exports) {}

  /** null where SIMD is unavailable or the width is not a multiple of 4. */
  static create(width: number): SimdReluPair | null {
    if (width % 4 !== 0) return null;
    const k = instantiate();
    return k ? new SimdReluPair(k) : null;
  }

  /**
   * Activations (N × width), and with `transposed` also their transpose
   * (width × N, what the output layer's weight gradient multiplies; the
   * backend's Transpose kernel costs a third of a matMul here): views into
   * this instance's memory, valid until the next call.
   */
  forward(
    ta: Float32Array,
    tb: Float32Array,
    ia: Int32Array,
    ib: Int32Array,
    width: number,
    transposed: boolean,
  ): { act: Float32Array; actT: Float32Array | null } {
    const n = ia.length;
    const rows = ta.length / width;
    const rowsBytes = 4 * rows * width;
    const rowBytes = 4 * n * width;
    // ia, ib, ta, tb, act, then (backward) d act, ga, gb, and act transposed.
    const sizes = [4 * n, 4 * n, rowsBytes, rowsBytes, rowBytes, rowBytes, rowsBytes, rowsBytes, rowBytes];
    const at = regions(this.k, sizes);
    const buf = this.k.memory.buffer;
    new Int32Array(buf, at[0], n).set(ia);
    new Int32Array(buf, at[1], n).set(ib);
    new Float32Array(buf, at[2], ta.length).set(ta);
    new Float32Array(buf, at[3], tb.length).set(tb);
    this.k.gather2relu(at[4]!, at[2]!, at[3]!, at[0]!, at[1]!, n, width);
    this.last = { n, rows, width, at };
    const act = new Float32Array(buf, at[4], n * width);
    if (!transposed) return { act, actT: null };
    this.k.transpose4(at[4]!, at[8]!, n, width);
    const actT = new Float32Array(buf, at[8], n * width);
    for (let i = n - (n % 4); i < n; i++)
      for (let c = 0; c < width; c++) actT[c * n + i] = act[i * width + c]!;
    return { act, actT };
  }

  /** Gradients of the two tables given d act for the rows of the last forward call (fresh arrays). */
  backward(dact: Float32Array): [Float32Array, Float32Array] {
    if (!this.last) throw new Error('SimdReluPair.backward called before forward');
    const { n, rows, width, at } = this.last;
    const size = rows * width;
    const buf = this.k.memory.buffer;
    new Float32Array(buf, at[5], n * width).set(dact.subarray(0, n * width));
    new Float32Array(buf, at[6], (at[7]! - at[6]!) / 4 + size).fill(0);
    this.k.scatter2relu(at[5]!, at[4]!, at[6]!, at[7]!, at[0]!, at[1]!, n, width);
    return [new Float32Array(buf, at[6], size).slice(), new Float32Array(buf, at[7], size).slice()];
  }
}
