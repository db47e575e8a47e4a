import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { FONT_FAMILY, VEGA_CONFIG } from './style.js';

/**
 * Vega-Lite → Vega → SVG on the server (a headless `vega.View`), and SVG →
 * PNG with resvg. PNGs use the DejaVu TTFs of the `dejavu-fonts-ttf` package
 * only (system fonts are not loaded), so a figure looks the same on every
 * machine, with or without fonts installed.
 */

/** A Vega-Lite spec as plain data (kept loose: the figure builders own its shape). */
export type VegaLiteSpec = Record<string, unknown>;

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  // Library code prints nothing: Vega's and Vega-Lite's loggers are silenced.
  const logger = vega.logger(vega.None);
  const compiled = vl.compile({ ...spec, config: VEGA_CONFIG } as unknown as vl.TopLevelSpec, {
    logger,
  }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

let fontFiles: string[] | undefined;

/** Paths of the bundled DejaVu Sans TTFs (regular, bold, oblique). */
export function bundledFontFiles(): string[] {
  if (!fontFiles) {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    fontFiles = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSans-Oblique.ttf'].map((f) => join(dir, f));
  }
  return fontFiles;
}

/** Rasterise an SVG at `scale` × its size (2 gives print-quality figures). */
export function svgToPng(svg: string, scale = 2): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: {
      loadSystemFonts: false,
      fontFiles: bundledFontFiles(),
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
  });
  return resvg.render().asPng();
}

/** A small SVG carrying a message, for figures that have nothing to draw. */
export function placeholderSvg(title: string, message: string): Promise<string> {
  return renderSvg({
    title: { text: title, subtitle: message },
    width: 360,
    height: 60,
    data: { values: [{ text: message }] },
    mark: { type: 'text', fontSize: 12, color: '#666' },
    encoding: { text: { field: 'text', type: 'nominal' } },
  });
}
