import type { Study } from '../study/study';
import { lastStep, StudyDirection, TrialState, type FrozenTrial } from '../study/trial-types';
import type { Pruner } from './base';

export interface SuccessiveHalvingOptions {
  /** Steps before the first rung; 'auto' = max(last step of the first complete trial / 100, 1). Default 'auto'. */
  minResource?: number | 'auto';
  /** Keep the top 1/reductionFactor at each rung. Default 4. */
  reductionFactor?: number;
  /** First rung at minResource * reductionFactor^rate. Default 0. */
  minEarlyStoppingRate?: number;
  /** Trials a rung needs before it promotes anyone (others are pruned meanwhile). Default 0. */
  bootstrapCount?: number;
}

/** System attr recording the value with which a trial reached rung `rung`. */
export function rungKey(rung: number): string {
  return `completed_rung_${rung}`;
}

/**
 * Asynchronous successive halving (ASHA): rung r sits at step minResource * eta^(rate + r). A trial
 * reaching a rung records its value there and continues only if it is in the top 1/eta of all
 * values recorded at that rung so far (no waiting for a full cohort).
 */
export class SuccessiveHalvingPruner implements Pruner {
  private minResource: number | null;
  private readonly eta: number;
  private readonly rate: number;
  private readonly bootstrap: number;

  constructor(opts: SuccessiveHalvingOptions = {}) {
    const mr = opts.minResource ?? 'auto';
    this.eta = opts.reductionFactor ?? 4;
    this.rate = opts.minEarlyStoppingRate ?? 0;
    this.bootstrap = opts.bootstrapCount ?? 0;
    if (mr !== 'auto' && !(Number.isInteger(mr) && mr >= 1)) throw new Error(`SuccessiveHalvingPruner: minResource must be an integer >= 1 or 'auto', got ${JSON.stringify(mr)}`);
    if (!(Number.isInteger(this.eta) && this.eta >= 2)) throw new Error(`SuccessiveHalvingPruner: reductionFactor must be an integer >= 2, got ${this.eta}`);
    if (!(Number.isInteger(this.rate) && this.rate >= 0)) throw new Error(`SuccessiveHalvingPruner: minEarlyStoppingRate must be an integer >= 0, got ${this.rate}`);
    if (!(Number.isInteger(this.bootstrap) && this.bootstrap >= 0)) throw new Error(`SuccessiveHalvingPruner: bootstrapCount must be an integer >= 0, got ${this.bootstrap}`);
    if (this.bootstrap > 0 && mr === 'auto') throw new Error("SuccessiveHalvingPruner: bootstrapCount > 0 needs an explicit minResource (not 'auto')");
    this.minResource = mr === 'auto' ? null : mr;
  }

  async prune(study: Study, trial: FrozenTrial): Promise<boolean> {
    return this.decide(study, trial, () => study.getTrials());
  }

  /** The decision, over the trials `peers` returns (Hyperband passes one bracket's trials). */
  async decide(study: Study, trial: FrozenTrial, peers: () => Promise<FrozenTrial[]>): Promise<boolean> {
    const step = lastStep(trial);
    if (step === null) return false;
    let rung = 0;
    while (rungKey(rung) in trial.systemAttrs) rung++;
    const value = trial.intermediateValues.get(step) as number;
    let trials: FrozenTrial[] | null = null;
    for (;;) {
      if (this.minResource === null) {
        trials ??= await peers();
        this.minResource = estimateMinResource(trials);
        if (this.minResource === null) return false;
      }
      const promotionStep = this.minResource * this.eta ** (this.rate + rung);
      if (step < promotionStep) return false;
      if (Number.isNaN(value)) return true;
      trials ??= await peers();
      const key = rungKey(rung);
      await study.storage.setTrialSystemAttr(trial.trialId, key, value);
      const competing: number[] = [];
      for (const t of trials) if (t.number !== trial.number && key in t.systemAttrs) competing.push(t.systemAttrs[key] as number);
      competing.push(value);
      if (competing.length <= this.bootstrap) return true;
      if (!isPromotable(value, competing, this.eta, study.direction)) return true;
      rung++;
    }
  }
}

/** 1% of the longest complete trial's last step (at least 1), once some trial has completed. */
function estimateMinResource(trials: FrozenTrial[]): number | null {
  let max = -1;
  for (const t of trials) {
    if (t.state !== TrialState.COMPLETE) continue;
    const s = lastStep(t);
    if (s !== null && s > max) max = s;
  }
  return max < 0 ? null : Math.max(Math.floor(max / 100), 1);
}

/** In the top floor(n/eta) of the rung's values (at least the single best). */
export function isPromotable(value: number, competing: number[], eta: number, dir: StudyDirection): boolean {
  const k = Math.max(Math.floor(competing.length / eta) - 1, 0);
  const sorted = [...competing].sort((a, b) => a - b);
  if (dir === StudyDirection.MAXIMIZE) return value >= sorted[sorted.length - 1 - k];
  return value <= sorted[k];
}
