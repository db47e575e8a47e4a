import {
  type CurvePoint,
  type FinalMetrics,
  MAX_CURVE_POINTS,
  type TrialOutcome,
  type TrialStatus,
} from './outcome.js';

/**
 * Collects evaluations during training and keeps a bounded, roughly
 * log-spaced subset: dense early (where grokking curves change fastest in
 * log time) and thinned later, so an outcome stays small whatever the step
 * budget. First-at-threshold steps are tracked on every evaluation, not on
 * the thinned curve, so they keep full resolution.
 */
export class CurveRecorder {
  private points: CurvePoint[] = [];
  private firstTrain: number | null = null;
  private firstVal: number | null = null;
  private last: CurvePoint | undefined;

  constructor(
    private readonly threshold: number,
    private readonly maxPoints = MAX_CURVE_POINTS,
  ) {}

  record(point: CurvePoint): void {
    if (this.firstTrain === null && point.trainAcc >= this.threshold) this.firstTrain = point.step;
    if (this.firstVal === null && point.valAcc >= this.threshold) this.firstVal = point.step;
    this.last = point;
    this.points.push(point);
    if (this.points.length > this.maxPoints) this.thin();
  }

  get lastPoint(): CurvePoint | undefined {
    return this.last;
  }

  get firstStepAtThreshold(): { train: number | null; val: number | null } {
    return { train: this.firstTrain, val: this.firstVal };
  }

  /** The kept points, always including the latest evaluation. */
  curve(): CurvePoint[] {
    const kept = [...this.points];
    if (this.last && kept[kept.length - 1] !== this.last) kept.push(this.last);
    return kept.slice(-this.maxPoints);
  }

  /** Serializable state, so a resumed run continues the same curve. */
  toJSON(): { points: CurvePoint[]; firstTrain: number | null; firstVal: number | null } {
    return { points: this.points, firstTrain: this.firstTrain, firstVal: this.firstVal };
  }

  static fromJSON(
    threshold: number,
    state: { points: CurvePoint[]; firstTrain: number | null; firstVal: number | null },
    maxPoints = MAX_CURVE_POINTS,
  ): CurveRecorder {
    const r = new CurveRecorder(threshold, maxPoints);
    r.points = [...state.points];
    r.firstTrain = state.firstTrain;
    r.firstVal = state.firstVal;
    r.last = state.points[state.points.length - 1];
    return r;
  }

  outcome(args: {
    status: TrialStatus;
    maxSteps: number;
    reason?: string;
    backend?: string;
    extra?: TrialOutcome['extra'];
  }): TrialOutcome {
    const last = this.last;
    const final: FinalMetrics = last
      ? {
          trainAcc: last.trainAcc,
          valAcc: last.valAcc,
          trainLoss: finiteOrUndefined(last.trainLoss),
          valLoss: finiteOrUndefined(last.valLoss),
          weightNorm: finiteOrUndefined(last.weightNorm),
        }
      : { trainAcc: 0, valAcc: 0 };
    return {
      status: args.status,
      ...(args.reason !== undefined ? { reason: args.reason } : {}),
      steps: last?.step ?? 0,
      maxSteps: args.maxSteps,
      firstStepAtThreshold: this.firstStepAtThreshold,
      final,
      curves: this.curve().map((p) => ({
        ...p,
        trainLoss: finiteOrUndefined(p.trainLoss),
        valLoss: finiteOrUndefined(p.valLoss),
        weightNorm: finiteOrUndefined(p.weightNorm),
      })),
      ...(args.backend !== undefined ? { backend: args.backend } : {}),
      ...(args.extra !== undefined ? { extra: args.extra } : {}),
    };
  }

  /**
   * Drop points so that the survivors are spread evenly in log(step):
   * bucket by log step and keep the last point of each bucket.
   */
  private thin(): void {
    const target = Math.floor(this.maxPoints * 0.75);
    const maxStep = Math.max(1, this.points[this.points.length - 1]!.step);
    const logMax = Math.log1p(maxStep);
    const buckets = new Map<number, CurvePoint>();
    for (const p of this.points) {
      const b = Math.floor((Math.log1p(p.step) / logMax) * (target - 1));
      buckets.set(b, p);
    }
    this.points = [...buckets.values()].sort((a, b) => a.step - b.step);
  }
}

function finiteOrUndefined(x: number | undefined): number | undefined {
  return x !== undefined && Number.isFinite(x) ? x : undefined;
}

/**
 * Evaluation schedule: every step up to 10, then log-spaced (about 20 per
 * decade) until `evalEvery` spacing is reached, then every `evalEvery`.
 * Dense early so fast transitions are seen; regular later so steps to
 * generalize are resolved to `evalEvery`.
 */
export function isEvalStep(step: number, evalEvery: number, maxSteps: number): boolean {
  if (step === maxSteps) return true;
  if (step <= 10) return true;
  if (step % evalEvery === 0) return true;
  const spacing = Math.max(1, Math.round(step * (10 ** (1 / 20) - 1)));
  return spacing < evalEvery && step % spacing === 0;
}
