import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { fadeToWhite, mergeRuns } from './figures.js';
import { cellEdges } from './geometry.js';
import { bundledFontFiles, renderSvg, svgToPng } from './render.js';
import { FONT_FAMILY } from './style.js';

/** Dark pixels of an SVG rasterised with the given fonts and no system fonts. */
function darkPixels(svg: string, fontFiles: string[]): number {
  const img = new Resvg(svg, {
    background: 'white',
    font: { loadSystemFonts: false, fontFiles, defaultFontFamily: FONT_FAMILY },
  }).render();
  let dark = 0;
  for (let i = 0; i < img.pixels.length; i += 4) if (img.pixels[i]! < 128) dark++;
  return dark;
}

describe('rendering', () => {
  const textSvg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="DejaVu Sans" font-size="20">grokking θ</text></svg>';

  it('renders text with the bundled TTF and without system fonts', () => {
    expect(darkPixels(textSvg, bundledFontFiles())).toBeGreaterThan(50);
    // Without any font resvg draws no text at all: the bundled font is what makes it appear.
    expect(darkPixels(textSvg, [])).toBe(0);
  });

  it('turns a Vega-Lite spec into SVG and PNG', async () => {
    const svg = await renderSvg({
      title: 'demo',
      data: { values: [{ a: 1, b: 2 }] },
      mark: 'point',
      encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
    });
    expect(svg).toMatch(/^<svg[^>]*width="\d+"/);
    expect(svg).toContain('>demo</text>');
    const png = svgToPng(svg, 2);
    const width = png.readUInt32BE(16);
    const svgWidth = Number(/width="(\d+)"/.exec(svg)![1]);
    expect(width).toBe(svgWidth * 2);
  });
});

describe('figure geometry', () => {
  it('tiles log-spaced centres half-way between neighbours in log space', () => {
    const e = cellEdges([0.01, 0.1, 1], true);
    expect(e.get(0.1)!.lo).toBeCloseTo(10 ** -1.5, 10);
    expect(e.get(0.1)!.hi).toBeCloseTo(10 ** -0.5, 10);
    expect(e.get(0.01)!.lo).toBeCloseTo(10 ** -2.5, 10);
    expect(e.get(1)!.hi).toBeCloseTo(10 ** 0.5, 10);
  });

  it('tiles linear centres and gives a lone centre some width', () => {
    const e = cellEdges([0.2, 0.4, 0.8], false);
    expect(e.get(0.4)).toEqual({ lo: 0.30000000000000004, hi: 0.6000000000000001 });
    const lone = cellEdges([0.5], false).get(0.5)!;
    expect(lone.hi - lone.lo).toBeGreaterThan(0);
  });

  it('fades a colour towards white', () => {
    expect(fadeToWhite('#0072B2', 1)).toBe('#0072b2');
    expect(fadeToWhite('#0072B2', 0)).toBe('#ffffff');
    expect(fadeToWhite('#000000', 0.5)).toBe('#808080');
  });

  it('merges horizontally adjacent rectangles of one colour and row only', () => {
    const r = (x: number, x2: number, y: number, color: string) => ({
      x,
      x2,
      y,
      y2: y + 1,
      phase: 'grokking' as const,
      color,
    });
    const merged = mergeRuns([
      r(1, 2, 0, '#a'),
      r(0, 1, 0, '#a'),
      r(2, 3, 0, '#b'),
      r(3, 4, 0, '#b'),
      r(0, 1, 1, '#a'),
    ]);
    expect(merged.map((m) => [m.x, m.x2, m.y, m.color])).toEqual([
      [0, 2, 0, '#a'],
      [2, 4, 0, '#b'],
      [0, 1, 1, '#a'],
    ]);
  });
});
