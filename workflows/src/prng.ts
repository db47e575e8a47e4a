/**
 * Small deterministic PRNG and hash used for trial proposals. Pure and
 * dependency-free so it runs identically inside Temporal's workflow sandbox,
 * in activities and in tests.
 */

/** 32-bit FNV-1a over a string. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a well-mixed 32-bit generator; returns uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stream keyed by (seed, index): trial i's random draws do not depend on any other trial. */
export function streamFor(seed: number, index: number, salt = ''): () => number {
  return mulberry32(fnv1a(`${seed}:${index}:${salt}`));
}

/** Stable JSON: object keys sorted, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** 8 hex chars identifying a value; used in sweep ids. */
export function shortHash(value: unknown): string {
  const text = canonicalJson(value);
  const a = fnv1a(text);
  const b = fnv1a(`${text}#`);
  return ((a ^ (b >>> 16)) >>> 0).toString(16).padStart(8, '0');
}
