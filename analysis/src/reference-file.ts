import { fileURLToPath } from 'node:url';

/**
 * The published phase grids (Liu et al. 2022) as shipped in this package: a
 * copy of shared/reference/liu2022-phase-grids.json, so `grokmap report
 * --reference`, the sampling benchmark and the tests work in any checkout,
 * not only one that sits beside shared/.
 */
export const REFERENCE_GRIDS_FILE: string = fileURLToPath(
  new URL('../reference/liu2022-phase-grids.json', import.meta.url),
);
