/**
 * Long model-based sweeps: what a suggestion costs once a bayes or adaptive
 * sweep has tens of thousands of trials behind it, and what its workflow
 * carries. For each size: an adaptive proposal of 64 points on the synthetic
 * trainer's ground truth (in all, and its longest stretch without giving the
 * event loop back: the control activity's heartbeat timeout is 30 s); the
 * sampler state whole against the window a workflow carries (stored.ts); and
 * reading the finished trials back from a SQLite results store, as each
 * suggestion does. Bayes proposals on long sweeps are in bench/bayes.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { adaptiveProposalSteps } from '../analysis/src/samplers/adaptive.js';
import { leaveInStore } from '../analysis/src/samplers/stored.js';
import { initialSamplerState } from '../analysis/src/samplers/suggest.js';
import type { SamplerObservation, SamplerState } from '../analysis/src/samplers/types.js';
import { groundTruthPhase } from '../plugins/synthetic/src/index.js';
import { restoreSamplerState } from '../workers/src/activities/stored-trials.js';
import { openStore } from '../workers/src/index.js';
import { mergeParams, streamFor, sweepSpecSchema, trialIdFor } from '../workflows/src/index.js';
import { timeSteps } from './time-steps.js';

export interface LongSweepRow {
  trials: number;
  /** Seconds for an adaptive proposal of POINTS points, and for its longest step. */
  adaptiveS: number;
  adaptiveLongestS: number;
  /** JSON bytes of the sampler state whole, and of what the workflow carries (POINTS in flight). */
  wholeStateBytes: number;
  carriedStateBytes: number;
  /** Seconds to read the finished trials back from the store and check them against the digest. */
  readBackS: number;
}

const POINTS = 64;
const SWEEP = 'long-sweep';

function longSweepSpec(trials: number) {
  return sweepSpecSchema.parse({
    name: SWEEP,
    trainer: 'synthetic',
    method: 'adaptive',
    seed: 1,
    budget: { trials: trials + 2 * POINTS, parallel: POINTS },
    parameters: {
      weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
      data_fraction: { min: 0.1, max: 0.9 },
    },
    fixed: { max_steps: 1000 },
    adaptive: { stop_when: { max_change: 0, patience: 100 } },
  });
}

/** `n` trials spread over the space, labelled by the synthetic trainer's ground truth. */
function observations(n: number): SamplerObservation[] {
  return Array.from({ length: n }, (_, index) => {
    const rand = streamFor(0, index, 'bench-long-sweep-adaptive');
    const point = { weight_decay: 10 ** (-2 + 3 * rand()), data_fraction: 0.1 + 0.8 * rand() };
    return { index, point, phase: groundTruthPhase(point), metric: null, censored: false };
  });
}

function timeAdaptive(spec: ReturnType<typeof longSweepSpec>, state: SamplerState) {
  return timeSteps(adaptiveProposalSteps(spec, state, POINTS));
}

async function timeReadBack(spec: ReturnType<typeof longSweepSpec>, whole: SamplerState): Promise<number> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'grokmap-long-sweep-'));
  const store = await openStore({
    sqlitePath: path.join(home, 'grokmap.db'),
    logger: pino({ level: 'silent' }),
  });
  try {
    for (const o of whole.observations) {
      const val = o.phase === 'grokking' || o.phase === 'comprehension' ? 800 : null;
      await store.recordTrialResult({
        sweepId: SWEEP,
        trialId: trialIdFor(SWEEP, o.index),
        index: o.index,
        params: mergeParams(spec, o.point),
        attempts: 1,
        outcome: {
          status: 'completed',
          steps: 1000,
          maxSteps: 1000,
          firstStepAtThreshold: { train: o.phase === 'confusion' ? null : 100, val },
          final: { trainAcc: 1, valAcc: val === null ? 0.2 : 1, trainLoss: 0.01 },
          curves: [],
        },
        phase: o.phase,
        tTrain: 100,
        tVal: val,
        ratio: val === null ? null : val / 100,
        valAtTrain: 0.1,
        semiGrokking: false,
      });
    }
    const carried = leaveInStore(whole);
    const start = performance.now();
    const restored = await restoreSamplerState(store, spec, SWEEP, carried);
    const seconds = (performance.now() - start) / 1000;
    if (restored.observations.length !== whole.observations.length) throw new Error('read-back lost trials');
    return seconds;
  } finally {
    await store.close();
    rmSync(home, { recursive: true, force: true });
  }
}

export async function benchLongSweeps(sizes: number[]): Promise<LongSweepRow[]> {
  const rows: LongSweepRow[] = [];
  for (const trials of sizes) {
    const spec = longSweepSpec(trials);
    const all = observations(trials + POINTS);
    const whole: SamplerState = {
      ...initialSamplerState(spec),
      nextIndex: trials + POINTS,
      observations: all.slice(0, trials),
      pending: all.slice(trials).map(({ index, point }) => ({ index, point })),
      round: 10,
    };
    const adaptive = timeAdaptive(spec, whole);
    const readBackS = await timeReadBack(spec, whole);
    rows.push({
      trials,
      adaptiveS: adaptive.totalS,
      adaptiveLongestS: adaptive.longestS,
      wholeStateBytes: JSON.stringify(whole).length,
      carriedStateBytes: JSON.stringify(leaveInStore(whole)).length,
      readBackS,
    });
  }
  return rows;
}
