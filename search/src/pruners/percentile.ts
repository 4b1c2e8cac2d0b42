import type { Study } from '../study/study';
import { lastStep, StudyDirection, TrialState, type FrozenTrial } from '../study/trial-types';
import type { Pruner } from './base';

export interface PercentilePrunerOptions {
  /** Trials that must COMPLETE before any pruning. Default 5. */
  nStartupTrials?: number;
  /** No pruning before this step. Default 0. */
  nWarmupSteps?: number;
  /** Check every this many steps after the warm-up. Default 1. */
  intervalSteps?: number;
  /** Fewer complete trials with a value at the step than this: do not prune. Default 1. */
  nMinTrials?: number;
}

/**
 * Prunes a trial whose best intermediate value so far is worse than the given percentile of the
 * complete trials' values at the same step (percentile 25 keeps the top quarter).
 */
export class PercentilePruner implements Pruner {
  private readonly nStartupTrials: number;
  private readonly nWarmupSteps: number;
  private readonly intervalSteps: number;
  private readonly nMinTrials: number;

  private readonly percentile: number;

  /** `new PercentilePruner(25, opts)` or, for option-driven callers, `new PercentilePruner({ percentile: 25, ...opts })`. */
  constructor(percentile: number | (PercentilePrunerOptions & { percentile: number }), opts: PercentilePrunerOptions = {}) {
    if (typeof percentile === 'object' && percentile !== null) {
      opts = percentile;
      percentile = percentile.percentile;
    }
    this.percentile = percentile;
    this.nStartupTrials = opts.nStartupTrials ?? 5;
    this.nWarmupSteps = opts.nWarmupSteps ?? 0;
    this.intervalSteps = opts.intervalSteps ?? 1;
    this.nMinTrials = opts.nMinTrials ?? 1;
    if (!(percentile >= 0 && percentile <= 100)) throw new Error(`PercentilePruner: percentile must be in [0, 100], got ${percentile}`);
    if (!(this.nStartupTrials >= 0)) throw new Error(`PercentilePruner: nStartupTrials must be >= 0, got ${this.nStartupTrials}`);
    if (!(this.nWarmupSteps >= 0)) throw new Error(`PercentilePruner: nWarmupSteps must be >= 0, got ${this.nWarmupSteps}`);
    if (!(this.intervalSteps >= 1)) throw new Error(`PercentilePruner: intervalSteps must be >= 1, got ${this.intervalSteps}`);
    if (!(this.nMinTrials >= 1)) throw new Error(`PercentilePruner: nMinTrials must be >= 1, got ${this.nMinTrials}`);
  }

  async prune(study: Study, trial: FrozenTrial): Promise<boolean> {
    const complete = await study.getTrials({ states: [TrialState.COMPLETE], useCache: false });
    if (complete.length === 0 || complete.length < this.nStartupTrials) return false;
    const step = lastStep(trial);
    if (step === null || step < this.nWarmupSteps) return false;
    if (!isFirstReportInInterval(step, [...trial.intermediateValues.keys()], this.nWarmupSteps, this.intervalSteps)) return false;

    const maximize = study.direction === StudyDirection.MAXIMIZE;
    const own = [...trial.intermediateValues.values()].filter((v) => !Number.isNaN(v));
    // A trial that only ever reported NaN has nothing worth continuing.
    if (own.length === 0) return true;
    const best = maximize ? Math.max(...own) : Math.min(...own);

    const atStep: number[] = [];
    for (const t of complete) {
      const v = t.intermediateValues.get(step);
      if (v !== undefined) atStep.push(v);
    }
    if (atStep.length < this.nMinTrials) return false;
    const q = nanPercentile(atStep, maximize ? 100 - this.percentile : this.percentile);
    if (Number.isNaN(q)) return false;
    return maximize ? best < q : best > q;
  }
}

/**
 * True when `step` is the first report at or after the latest pruning checkpoint
 * (warm-up + k * interval), so a trial reporting at irregular steps is still checked once per interval.
 */
export function isFirstReportInInterval(step: number, steps: number[], warmup: number, interval: number): boolean {
  const checkpoint = Math.floor((step - warmup) / interval) * interval + warmup;
  let previous = -1;
  for (const s of steps) if (s !== step && s > previous) previous = s;
  return previous < checkpoint;
}

/** Percentile with linear interpolation between order statistics (numpy's default), NaNs ignored. */
export function nanPercentile(xs: readonly number[], p: number): number {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = ((v.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  if (lo === hi) return v[lo];
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}
