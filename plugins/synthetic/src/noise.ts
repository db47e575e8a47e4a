/**
 * Counter-based deterministic noise: every draw is a pure function of a
 * 32-bit key (from the seed and the parameters) and a counter (the step and
 * a channel number). No generator state is carried, so a run resumed at step
 * k draws exactly what an uninterrupted run draws from step k on.
 */

/** murmur3's 32-bit finalizer: a cheap, well-mixed bijection on 32-bit integers. */
function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit key for a string (e.g. the seed and parameters of a run). */
export function noiseKey(text: string): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < text.length; i++) h = mix32(h ^ Math.imul(text.charCodeAt(i), 0x27d4eb2f));
  return h;
}

/** Uniform in (0, 1) for (key, counter, channel). */
export function uniformAt(key: number, counter: number, channel: number): number {
  const h = mix32(mix32(key ^ Math.imul(counter + 1, 0x9e3779b1)) ^ Math.imul(channel + 1, 0x85ebca77));
  return (h + 0.5) / 4294967296;
}

/** Standard normal for (key, counter, channel), by Box–Muller over two uniforms. */
export function normalAt(key: number, counter: number, channel: number): number {
  const u = uniformAt(key, counter, 2 * channel);
  const v = uniformAt(key, counter, 2 * channel + 1);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
