import { CurveRecorder, MAX_CURVE_POINTS, trialOutcomeSchema } from '@grokmap/plugin-sdk';
import { describe, expect, it } from 'vitest';
import {
  outcomeFromResult,
  parseLine,
  progressToReport,
  type ResultMessage,
  resultMessageSchema,
} from './protocol.js';

describe('parseLine', () => {
  it('reads a progress line into camelCase report fields, null losses as absent', () => {
    const parsed = parseLine(
      '{"type":"progress","step":12,"train_acc":0.5,"val_acc":0.25,"train_loss":null,"val_loss":3.5,"weight_norm":7}',
      4,
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.message.type !== 'progress') throw new Error('expected progress');
    expect(progressToReport(parsed.message)).toEqual({
      step: 12,
      trainAcc: 0.5,
      valAcc: 0.25,
      valLoss: 3.5,
      weightNorm: 7,
    });
  });

  it('defaults a log line to level info', () => {
    const parsed = parseLine('{"type":"log","msg":"warming up"}', 1);
    expect(parsed).toEqual({ ok: true, message: { type: 'log', level: 'info', msg: 'warming up' } });
  });

  it.each([
    ['{"type":"progress","step":-1}', 'step'],
    ['{"type":"progress","step":1.5}', 'step'],
    ['{"type":"progress","step":1,"train_acc":1.2}', 'train_acc'],
    ['{"type":"progress","step":1,"trainAcc":0.5}', 'trainAcc'],
    ['{"type":"checkpoint","step":3}', 'path'],
    ['{"type":"log","level":"shout","msg":"x"}', 'level'],
    ['{"type":"result","status":"finished"}', 'status'],
    ['[1,2,3]', 'not a valid message'],
  ])('refuses %s, naming %s and the line number', (line, what) => {
    const parsed = parseLine(line, 17);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toContain('stdout line 17');
    expect(parsed.error).toContain(what);
    expect(parsed.error).toContain(JSON.stringify(line));
  });
});

describe('outcomeFromResult', () => {
  const recorded = () => {
    const r = new CurveRecorder(0.9);
    r.record({ step: 10, trainAcc: 0.95, valAcc: 0.1 });
    r.record({ step: 20, trainAcc: 1, valAcc: 0.3 });
    return r.outcome({ status: 'completed', maxSteps: 100 });
  };

  it('keeps the recorded curve and fills what the result leaves out', () => {
    const result: ResultMessage = { type: 'result', status: 'timed_out', reason: 'budget', max_steps: 50 };
    const o = outcomeFromResult(result, recorded(), 0.9);
    expect(o).toMatchObject({ status: 'timed_out', reason: 'budget', steps: 20, maxSteps: 50 });
    expect(o.firstStepAtThreshold).toEqual({ train: 10, val: null });
    expect(o.final).toEqual({ trainAcc: 1, valAcc: 0.3 });
  });

  it('converts snake_case final metrics and bounds a long curve the program sends', () => {
    const curves = Array.from({ length: 3000 }, (_, i) => ({
      step: i + 1,
      train_acc: Math.min(1, i / 1000),
      val_acc: i >= 2500 ? 1 : 0,
    }));
    const result = resultMessageSchema.parse({
      type: 'result',
      status: 'completed',
      steps: 3000,
      max_steps: 3000,
      final: { train_acc: 1, val_acc: 1, train_loss: 0.01, val_loss: null, weight_norm: 3 },
      curves,
    });
    const o = outcomeFromResult(result, recorded(), 0.9);
    expect(o.final).toEqual({ trainAcc: 1, valAcc: 1, trainLoss: 0.01, weightNorm: 3 });
    expect(o.curves.length).toBeLessThanOrEqual(MAX_CURVE_POINTS);
    expect(o.curves.at(-1)).toMatchObject({ step: 3000, trainAcc: 1, valAcc: 1 });
    // First steps at threshold come from every point the program sent, not the thinned curve.
    expect(o.firstStepAtThreshold).toEqual({ train: 901, val: 2501 });
    expect(trialOutcomeSchema.safeParse(o).success).toBe(true);
  });
});
