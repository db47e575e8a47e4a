/**
 * Renders the published Liu et al. (2022) phase grids with the report writer,
 * into docs/img/liu2022-<grid>.png (and .svg), for the README and for side-by-
 * side comparison with a sweep's phase diagram.
 *
 *   npx tsx analysis/scripts/render-reference.ts [reference.json] [out-dir]
 *
 * Defaults: the grids shipped in analysis/reference/ and docs/img.
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceGridNames } from '../src/reference.js';
import { REFERENCE_GRIDS_FILE } from '../src/reference-file.js';
import { writeReferenceReport } from '../src/report/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const referencePath = resolve(process.argv[2] ?? REFERENCE_GRIDS_FILE);
const outDir = resolve(process.argv[3] ?? join(root, 'docs', 'img'));

const names = referenceGridNames(await readFile(referencePath, 'utf8'));
const work = await mkdtemp(join(tmpdir(), 'grokmap-reference-'));
try {
  for (const name of names) {
    const dir = join(work, name);
    const { counts } = await writeReferenceReport(referencePath, name, dir);
    const base = name.replace(/^liu2022-/, 'liu2022-');
    await copyFile(join(dir, 'phase-diagram.png'), join(outDir, `${base}.png`));
    await copyFile(join(dir, 'phase-diagram.svg'), join(outDir, `${base}.svg`));
    process.stdout.write(`${join(outDir, `${base}.png`)}  ${JSON.stringify(counts)}\n`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
