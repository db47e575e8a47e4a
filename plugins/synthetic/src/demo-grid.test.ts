import { readFileSync } from 'node:fs';
import { createTestContext } from '@grokmap/plugin-sdk';
import { describe, expect, it } from 'vitest';
import synthetic, { demoSweepPath, groundTruthPhase, type Phase, type PhaseRule } from './index.js';

/**
 * The demo sweep (demo-sweep.yaml) must show all four phases, both in the
 * model's ground truth and in what actually running the trainer produces.
 * The YAML is read with a small reader for its flow-style lines (this
 * package does not depend on a YAML parser); it fails loudly if the file
 * stops looking like that.
 */
function readDemoSweep() {
  const text = readFileSync(demoSweepPath, 'utf8');
  const parameters: Record<string, number[]> = {};
  for (const m of text.matchAll(/^ {2}(\w+):\s*\{\s*values:\s*(\[[^\]]*\])\s*\}\s*$/gm)) {
    parameters[m[1]!] = JSON.parse(m[2]!) as number[];
  }
  const mapping = (key: string): Record<string, number> => {
    const line = new RegExp(`^${key}:\\s*\\{([^}]*)\\}`, 'm').exec(text);
    if (!line) throw new Error(`demo-sweep.yaml has no flow mapping '${key}'`);
    return Object.fromEntries(
      line[1]!.split(',').map((kv) => {
        const [k, v] = kv.split(':').map((s) => s.trim());
        return [k!, Number(v)];
      }),
    );
  };
  return { text, parameters, fixed: mapping('fixed'), phase: mapping('phase'), budget: mapping('budget') };
}

const demo = readDemoSweep();
const rule: PhaseRule = { threshold: demo.phase.threshold!, delaySteps: demo.phase.delay_steps! };

function gridPoints(): Record<string, number>[] {
  let points: Record<string, number>[] = [{}];
  for (const [name, values] of Object.entries(demo.parameters)) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [name]: v })));
  }
  return points.map((p) => ({ ...p, ...demo.fixed }));
}

/** DESIGN.md's phase rule, applied to first steps at θ. */
function classify(train: number | null, val: number | null): Phase {
  if (train === null) return 'confusion';
  if (val === null) return 'memorization';
  return val - train < rule.delaySteps ? 'comprehension' : 'grokking';
}

const ALL_PHASES: Phase[] = ['comprehension', 'confusion', 'grokking', 'memorization'];

describe('demo sweep', () => {
  it('is a synthetic grid sweep over the three model parameters and seeds, sized to its grid', () => {
    expect(demo.text).toMatch(/^trainer: synthetic$/m);
    expect(demo.text).toMatch(/^method: grid$/m);
    expect(Object.keys(demo.parameters).sort()).toEqual([
      'data_fraction',
      'model_size',
      'seed',
      'weight_decay',
    ]);
    expect(demo.budget.trials).toBe(gridPoints().length);
    for (const p of gridPoints()) expect(synthetic.params.safeParse(p).success).toBe(true);
  });

  it('has all four phases in its ground truth', () => {
    const phases = new Set(gridPoints().map((p) => groundTruthPhase(p, rule)));
    expect([...phases].sort()).toEqual(ALL_PHASES);
  });

  it('shows all four phases when trained, each run in its ground-truth phase', async () => {
    const observed: { params: Record<string, number>; phase: Phase; truth: Phase }[] = [];
    for (const raw of gridPoints()) {
      const params = synthetic.params.parse(raw);
      const outcome = await synthetic.train(params, createTestContext({ threshold: rule.threshold }));
      expect(outcome.status).toBe('completed');
      const { train, val } = outcome.firstStepAtThreshold;
      observed.push({ params: raw, phase: classify(train, val), truth: groundTruthPhase(raw, rule) });
    }
    expect([...new Set(observed.map((o) => o.phase))].sort()).toEqual(ALL_PHASES);
    expect(observed.filter((o) => o.phase !== o.truth)).toEqual([]);
  });
});
