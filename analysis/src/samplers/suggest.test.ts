import {
  maxCarriedTrials,
  observationBytesBound,
  type SweepSpecInput,
  streamFor,
  sweepSpecSchema,
} from '@grokmap/workflows';
import { describe, expect, it } from 'vitest';
import {
  initialSamplerState,
  observeTrials,
  proposeTrials,
  proposeTrialsYielding,
  type SamplerProposal,
} from './suggest.js';
import type { SamplerResult, SamplerState } from './types.js';

const PARAMETERS = {
  weight_decay: { distribution: 'log_uniform_values', min: 0.01, max: 10 },
  data_fraction: { min: 0.1, max: 0.9 },
  model_size: { values: [64, 128, 256] },
  layers: { distribution: 'int_uniform', min: 1, max: 4 },
  seed: { values: [0, 1, 2] },
} as const;

function specFor(method: 'bayes' | 'adaptive', extra: Partial<SweepSpecInput> = {}) {
  return sweepSpecSchema.parse({
    name: `test-${method}`,
    trainer: 'synthetic',
    method,
    seed: 7,
    metric: { name: 'steps_to_generalize', goal: 'minimize' },
    budget: { trials: 40, parallel: 4 },
    parameters: PARAMETERS,
    fixed: { max_steps: 20000 },
    ...extra,
  });
}

/** A made-up deterministic outcome: generalizes fast with much data and moderate weight decay. */
function outcome(params: Record<string, unknown>, index: number): SamplerResult {
  const wd = Number(params.weight_decay);
  const f = Number(params.data_fraction);
  const generalizes = f > 0.6 - 0.2 * Math.log10(wd);
  const metric = generalizes ? 500 + 3000 * Math.abs(Math.log10(wd)) + 2000 * (1 - f) : 20000;
  return {
    index,
    status: 'completed',
    phase: generalizes ? (wd < 0.3 ? 'grokking' : 'comprehension') : 'memorization',
    metric,
  };
}

/** Propose and observe in batches of `batch` until `rounds` proposals have been made. */
function run(
  method: 'bayes' | 'adaptive',
  rounds: number,
  batch = 4,
): { state: SamplerState; ids: string[] } {
  const spec = specFor(method);
  let state = initialSamplerState(spec);
  const ids: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const p = proposeTrials(spec, 'sweep-1', state, batch);
    ids.push(...p.trials.map((t) => `${t.trialId} ${JSON.stringify(t.params)}`));
    state = observeTrials(
      p.state,
      p.trials.map((t) => outcome(t.params, t.index)),
    );
  }
  return { state, ids };
}

describe.each(['bayes', 'adaptive'] as const)('%s sampler', (method) => {
  it('proposes the same trials for the same seed, and other trials for another seed', () => {
    const a = run(method, 5);
    const b = run(method, 5);
    expect(a.ids).toEqual(b.ids);
    expect(a.ids).toHaveLength(20);
    const spec = specFor(method, { seed: 8 });
    const other = proposeTrials(spec, 'sweep-1', initialSamplerState(spec), 4);
    expect(other.trials.map((t) => JSON.stringify(t.params))).not.toEqual(
      a.ids.slice(0, 4).map((s) => s.slice(s.indexOf(' ') + 1)),
    );
  });

  it('gives trial ids by index, merges fixed parameters, and keeps values on the parameters', () => {
    const { state, ids } = run(method, 4);
    expect(ids[0]).toMatch(/^sweep-1\.t000000 /);
    expect(ids[15]).toMatch(/^sweep-1\.t000015 /);
    for (const o of state.observations) {
      expect(o.point.weight_decay).toBeGreaterThanOrEqual(0.01);
      expect(o.point.weight_decay).toBeLessThanOrEqual(10);
      expect([64, 128, 256]).toContain(o.point.model_size);
      expect(Number.isInteger(o.point.layers)).toBe(true);
    }
    // Seeds are cycled by trial index.
    expect(state.observations.slice(0, 6).map((o) => o.point.seed)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(JSON.parse(ids[0]!.slice(ids[0]!.indexOf(' ') + 1)).max_steps).toBe(20000);
  });

  it('proposes distinct points within and across batches', () => {
    const { state } = run(method, 8);
    const keys = state.observations.map((o) => {
      const { seed: _seed, ...rest } = o.point;
      return JSON.stringify(rest);
    });
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('state round-trips through JSON and proposes the same next batch afterwards', () => {
    const spec = specFor(method);
    const { state } = run(method, 4);
    const copy = JSON.parse(JSON.stringify(state)) as SamplerState;
    expect(copy).toEqual(state);
    expect(proposeTrials(spec, 's', copy, 4)).toEqual(proposeTrials(spec, 's', state, 4));
    // Compact: no curves, a few hundred bytes per trial at most.
    expect(JSON.stringify(state).length).toBeLessThan(16 * 300 + 2000);
  });

  it('stops at the budget', () => {
    const spec = specFor(method, { budget: { trials: 6, parallel: 4 } });
    const observed = (p: SamplerProposal) =>
      observeTrials(
        p.state,
        p.trials.map((t) => outcome(t.params, t.index)),
      );
    const first = proposeTrials(spec, 's', initialSamplerState(spec), 4);
    expect(first.exhausted).toBe(false);
    const second = proposeTrials(spec, 's', observed(first), 4);
    expect(second.trials.map((t) => t.index)).toEqual([4, 5]);
    expect(second.exhausted).toBe(true);
    const third = proposeTrials(spec, 's', observed(second), 4);
    expect(third.trials).toEqual([]);
    expect(third.exhausted).toBe(true);
  });
});

/** How many turns of the event loop happened while `fn` ran: a timer (a heartbeat) could have fired on each. */
async function loopTurnsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; ticks: number }> {
  let ticks = 0;
  let ticking = true;
  const tick = () => {
    ticks++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const result = await fn();
  ticking = false;
  return { result, ticks };
}

describe('bayes proposals on a long sweep', () => {
  const spec = specFor('bayes', { budget: { trials: 2000, parallel: 64 } });
  /** `n` observed trials (past the GP's 1,000-observation cap when n is large), proposed and observed 100 at a time. */
  function observed(n: number): SamplerState {
    let state = initialSamplerState(spec);
    const rand = streamFor(3, 0, 'long-sweep-test');
    while (state.nextIndex < n) {
      const points = Array.from({ length: Math.min(100, n - state.nextIndex) }, (_, k) => ({
        index: state.nextIndex + k,
        point: {
          weight_decay: 10 ** (-2 + 3 * rand()),
          data_fraction: 0.1 + 0.8 * rand(),
          model_size: [64, 128, 256][k % 3]!,
          layers: 1 + (k % 4),
          seed: k % 3,
        },
      }));
      state = { ...state, nextIndex: state.nextIndex + points.length, pending: points };
      state = observeTrials(
        state,
        points.map((p) => outcome(p.point, p.index)),
      );
    }
    return state;
  }

  it('gives the event loop back between points, with the same trials as one synchronous proposal', async () => {
    const state = observed(40);
    const { result: yielded, ticks } = await loopTurnsDuring(() =>
      proposeTrialsYielding(spec, 's', state, 6),
    );
    // One turn of the loop per point after the first: a heartbeat timer would have run as often.
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect(yielded).toEqual(proposeTrials(spec, 's', state, 6));
  });

  it('past a thousand trials still proposes distinct points none of the sweep has run', () => {
    const state = observed(1100);
    const proposal = proposeTrials(spec, 's', state, 3);
    expect(proposal.trials).toHaveLength(3);
    const key = (p: Record<string, unknown>) =>
      JSON.stringify([p.weight_decay, p.data_fraction, p.model_size, p.layers]);
    const taken = new Set(state.observations.map((o) => key(o.point)));
    const proposed = proposal.trials.map((t) => key(t.params));
    expect(new Set(proposed).size).toBe(3);
    for (const p of proposed) expect(taken.has(p)).toBe(false);
  });
});

describe('adaptive proposals for a wide fleet', () => {
  it('fill a batch wider than the 400 candidates scored by default, giving the event loop back between picks', async () => {
    const spec = specFor('adaptive', {
      budget: { trials: 2000, parallel: 420 },
      parameters: { weight_decay: PARAMETERS.weight_decay, data_fraction: PARAMETERS.data_fraction },
      adaptive: { target: 'phase', batch: 420, initial: 40 },
    });
    const first = proposeTrials(spec, 's', initialSamplerState(spec), 40);
    expect(first.trials).toHaveLength(40);
    const state = observeTrials(
      first.state,
      first.trials.map((t) => outcome(t.params, t.index)),
    );
    const { result: wide, ticks } = await loopTurnsDuring(() => proposeTrialsYielding(spec, 's', state, 420));
    expect(wide.trials).toHaveLength(420);
    expect(ticks).toBeGreaterThanOrEqual(419);
    expect(wide).toEqual(proposeTrials(spec, 's', state, 420));
  });
});

describe('the sampler state size the spec allows', () => {
  it('bounds a trial exactly by its longest possible record, so a larger state format fails here first', () => {
    const spec = specFor('adaptive', {
      budget: { trials: 900, parallel: 4 },
      parameters: {
        ...PARAMETERS,
        optimizer: { values: ['adamw', 'sgd-with-momentum'] },
        batch_norm: { value: true },
      },
    });
    const longest = -1.2345678901234567e-123;
    const point = {
      weight_decay: longest,
      data_fraction: longest,
      model_size: 256,
      layers: longest,
      seed: 0,
      optimizer: 'sgd-with-momentum',
      batch_norm: true,
    };
    const pending: SamplerState = {
      ...initialSamplerState(spec),
      nextIndex: 900,
      pending: [{ index: 899, point }],
    };
    const state = observeTrials(pending, [
      { index: 899, status: 'completed', phase: 'memorization', metric: longest, censored: false },
    ]);
    expect(JSON.stringify(state.observations[0]).length + 1).toBe(
      observationBytesBound(spec.parameters, spec.budget.trials),
    );
  });

  it('refuses a model-based sweep whose carried window could outgrow a Temporal payload, not a long one', () => {
    const most = maxCarriedTrials(specFor('bayes'));
    expect(most).toBeGreaterThan(5000);
    // The window is a round and the lag behind it; the sweep's length does not count.
    const rounds = { trials: 100 * most, parallel: 4 };
    expect(specFor('bayes', { budget: rounds }).budget.trials).toBe(100 * most);
    expect(specFor('adaptive', { budget: { ...rounds, lag: most - 4 } }).budget.lag).toBe(most - 4);
    expect(() => specFor('adaptive', { budget: { ...rounds, lag: most - 3 } })).toThrow(
      new RegExp(
        `"budget",\\s*"lag"[\\s\\S]*\\(${most - 3}\\) makes this adaptive sweep carry up to ${most + 1} trials' points and results .* more than the ${most} that fit`,
      ),
    );
  });
});

describe('observeTrials', () => {
  const spec = specFor('bayes');
  const proposed = proposeTrials(spec, 's', initialSamplerState(spec), 3).state;

  it('moves results from pending to observations in index order, ignoring unknown and repeated ones', () => {
    const once = observeTrials(proposed, [
      { index: 2, status: 'completed', phase: 'grokking', metric: 4000 },
      { index: 0, status: 'completed', phase: 'comprehension', metric: 300 },
      { index: 99, status: 'completed', phase: 'comprehension', metric: 1 },
    ]);
    expect(once.observations.map((o) => o.index)).toEqual([0, 2]);
    expect(once.pending.map((p) => p.index)).toEqual([1]);
    const again = observeTrials(once, [{ index: 2, status: 'completed', phase: 'confusion', metric: 1 }]);
    expect(again).toBe(once);
  });

  it('marks step metrics of runs that never generalized as censored, and skips failed trials', () => {
    const next = observeTrials(proposed, [
      { index: 0, status: 'completed', phase: 'memorization', metric: 20000 },
      { index: 1, status: 'error', phase: null, metric: 7 },
      { index: 2, status: 'completed', phase: 'grokking', metric: 5000, censored: false },
    ]);
    expect(next.observations.map((o) => [o.censored, o.metric, o.phase])).toEqual([
      [true, 20000, 'memorization'],
      [false, null, null],
      [false, 5000, 'grokking'],
    ]);
  });

  it('refuses a state of the other method', () => {
    expect(() => proposeTrials(specFor('adaptive'), 's', proposed, 1)).toThrow(/bayes/);
  });
});
