import type { CurvePoint, TrialOutcome } from '@grokmap/plugin-sdk';
import { describe, expect, it } from 'vitest';
import { classifyOutcome, classifyTimes, valAccuracyAt } from './classify.js';
import type { PhaseRule } from './types.js';

const rule: PhaseRule = { threshold: 0.99, delaySteps: 1000 };

function outcome(
  train: number | null,
  val: number | null,
  curves: CurvePoint[] = [],
  finalVal = val === null ? 0.2 : 1,
): TrialOutcome {
  return {
    status: 'completed',
    steps: 20_000,
    maxSteps: 20_000,
    firstStepAtThreshold: { train, val },
    final: { trainAcc: train === null ? 0.5 : 1, valAcc: finalVal },
    curves,
  };
}

const pt = (step: number, trainAcc: number, valAcc: number): CurvePoint => ({ step, trainAcc, valAcc });

describe('classifyTimes', () => {
  it('is confusion when train never reaches the threshold', () => {
    expect(classifyTimes(null, null, rule)).toBe('confusion');
    expect(classifyTimes(null, 500, rule)).toBe('confusion');
  });
  it('is memorization when only train reaches it', () => {
    expect(classifyTimes(800, null, rule)).toBe('memorization');
  });
  it('puts a delay of exactly Δ in grokking and one step less in comprehension', () => {
    expect(classifyTimes(500, 500 + rule.delaySteps, rule)).toBe('grokking');
    expect(classifyTimes(500, 500 + rule.delaySteps - 1, rule)).toBe('comprehension');
  });
  it('treats validation reaching the threshold first as comprehension', () => {
    expect(classifyTimes(2000, 1500, rule)).toBe('comprehension');
  });
  it('follows the delay of the rule it is given', () => {
    expect(classifyTimes(100, 400, { threshold: 0.9, delaySteps: 200 })).toBe('grokking');
    expect(classifyTimes(100, 400, { threshold: 0.9, delaySteps: 400 })).toBe('comprehension');
  });
});

describe('classifyOutcome', () => {
  const curves = [pt(0, 0.01, 0.01), pt(100, 0.5, 0.05), pt(300, 1, 0.1), pt(1000, 1, 0.3), pt(5000, 1, 1)];

  it('records t_train, t_val, R and the validation accuracy at t_train (interpolated)', () => {
    const c = classifyOutcome(outcome(200, 4000, curves), rule);
    expect(c.phase).toBe('grokking');
    expect(c.tTrain).toBe(200);
    expect(c.tVal).toBe(4000);
    expect(c.ratio).toBeCloseTo(20);
    // halfway between step 100 (0.05) and step 300 (0.1)
    expect(c.valAtTrain).toBeCloseTo(0.075);
    expect(c.semiGrokking).toBe(false);
  });

  it('never reached: confusion with no ratio and no validation at t_train', () => {
    const c = classifyOutcome(outcome(null, null, curves), rule);
    expect(c).toMatchObject({ phase: 'confusion', ratio: null, valAtTrain: null, semiGrokking: false });
  });

  it('flags semi-grokking when validation rises by ≥ 0.1 after t_train but ends below θ', () => {
    const semi = [pt(100, 0.5, 0.05), pt(300, 1, 0.1), pt(3000, 1, 0.45), pt(20_000, 1, 0.7)];
    const c = classifyOutcome(outcome(300, null, semi, 0.7), rule);
    expect(c.phase).toBe('memorization');
    expect(c.valAtTrain).toBeCloseTo(0.1);
    expect(c.semiGrokking).toBe(true);
  });

  it('does not flag semi-grokking for a flat validation curve after memorizing', () => {
    const flat = [pt(100, 0.5, 0.05), pt(300, 1, 0.1), pt(3000, 1, 0.15), pt(20_000, 1, 0.12)];
    expect(classifyOutcome(outcome(300, null, flat, 0.12), rule).semiGrokking).toBe(false);
  });
});

describe('valAccuracyAt', () => {
  it('clamps outside the curve and returns null without curves', () => {
    const curves = [pt(10, 0, 0.2), pt(20, 0, 0.4)];
    expect(valAccuracyAt(curves, 5)).toBe(0.2);
    expect(valAccuracyAt(curves, 50)).toBe(0.4);
    expect(valAccuracyAt([], 5)).toBeNull();
  });
  it('sorts unsorted curves before interpolating', () => {
    expect(valAccuracyAt([pt(20, 0, 0.4), pt(10, 0, 0.2)], 15)).toBeCloseTo(0.3);
  });
});
