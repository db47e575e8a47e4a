import type { PackingSupport, TrialParams } from './trainer.js';

/**
 * Split trials into packs a trainer can take: trials whose shape parameters
 * (`packing.shapeKeys`) are equal share a pack, at most `maxTrials` to one,
 * in the order they came. Items keep their positions' meaning: each pack
 * lists indices into `items`.
 */
export function splitIntoPacks<T>(
  items: readonly T[],
  paramsOf: (item: T) => TrialParams,
  packing: Pick<PackingSupport, 'maxTrials' | 'shapeKeys'>,
): number[][] {
  const open = new Map<string, number[]>();
  const packs: number[][] = [];
  items.forEach((item, i) => {
    const params = paramsOf(item);
    const key = JSON.stringify(packing.shapeKeys.map((k) => params[k] ?? null));
    let pack = open.get(key);
    if (!pack || pack.length >= packing.maxTrials) {
      pack = [];
      open.set(key, pack);
      packs.push(pack);
    }
    pack.push(i);
  });
  return packs;
}
