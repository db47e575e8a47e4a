import { describe, expect, it } from 'vitest';
import { aggregateCells } from '../cells.js';
import type { AnalysedTrial } from '../types.js';
import { delayHeatmapSpec } from './figures.js';

function trial(id: string, wd: number, f: number): AnalysedTrial {
  return {
    trialId: id,
    params: { weight_decay: wd, data_fraction: f },
    status: 'completed',
    classification: {
      phase: 'grokking',
      tTrain: 100,
      tVal: 3000,
      ratio: 30,
      valAtTrain: null,
      semiGrokking: false,
    },
  };
}

function markTypes(spec: Record<string, unknown>): string[] {
  const panels = spec.concat as { layer: { mark: { type: string } }[] }[];
  return panels.flatMap((p) => p.layer.map((l) => l.mark.type));
}

const axes = { x: { name: 'weight_decay', log: true }, y: { name: 'data_fraction', log: false } };

describe('delayHeatmapSpec', () => {
  it('tiles a grid with rectangles and prints R in each cell', () => {
    const trials = [0.01, 0.1, 1].flatMap((wd, i) => [0.3, 0.6].map((f, j) => trial(`g${i}${j}`, wd, f)));
    const spec = delayHeatmapSpec({
      title: 't',
      subtitle: [],
      ...axes,
      panels: [{ title: 'p', cells: aggregateCells(trials, ['weight_decay', 'data_fraction']) }],
    });
    expect(markTypes(spec)).toEqual(['rect', 'rect', 'text']);
  });

  it('draws scattered samples as squares, without labels', () => {
    const trials = Array.from({ length: 12 }, (_, i) =>
      trial(`r${i}`, 0.01 * 1.7 ** i, 0.2 + 0.05 * ((i * 7) % 12)),
    );
    const spec = delayHeatmapSpec({
      title: 't',
      subtitle: [],
      ...axes,
      panels: [{ title: 'p', cells: aggregateCells(trials, ['weight_decay', 'data_fraction']) }],
    });
    expect(markTypes(spec)).toEqual(['square', 'square']);
  });
});
