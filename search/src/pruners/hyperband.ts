import type { Study } from '../study/study';
import { lastStep, TrialState, type FrozenTrial } from '../study/trial-types';
import type { Pruner } from './base';
import { crc32 } from './crc32';
import { SuccessiveHalvingPruner } from './successive-halving';

export interface HyperbandOptions {
  /** Default 1. */
  minResource?: number;
  /** Steps of a full trial; 'auto' = last step of the first complete trial + 1. Default 'auto'. */
  maxResource?: number | 'auto';
  /** Default 3. */
  reductionFactor?: number;
  /** Default 0. */
  bootstrapCount?: number;
}

/**
 * Hyperband: several successive-halving brackets that trade many short trials against few long
 * ones (bracket b starts halving at minResource * eta^b). Each trial joins one bracket, by a hash
 * of study name and trial number, in proportion to the bracket's budget, and competes only with
 * the trials of its own bracket.
 */
export class HyperbandPruner implements Pruner {
  private readonly minResource: number;
  private maxResource: number | 'auto';
  private readonly eta: number;
  private readonly bootstrap: number;
  private brackets: SuccessiveHalvingPruner[] = [];
  private budgets: number[] = [];
  private totalBudget = 0;

  constructor(opts: HyperbandOptions = {}) {
    this.minResource = opts.minResource ?? 1;
    this.maxResource = opts.maxResource ?? 'auto';
    this.eta = opts.reductionFactor ?? 3;
    this.bootstrap = opts.bootstrapCount ?? 0;
    if (!(Number.isInteger(this.minResource) && this.minResource >= 1)) throw new Error(`HyperbandPruner: minResource must be an integer >= 1, got ${this.minResource}`);
    if (this.maxResource !== 'auto' && !(Number.isInteger(this.maxResource) && this.maxResource >= this.minResource)) {
      throw new Error(`HyperbandPruner: maxResource must be an integer >= minResource or 'auto', got ${JSON.stringify(this.maxResource)}`);
    }
    if (!(Number.isInteger(this.eta) && this.eta >= 2)) throw new Error(`HyperbandPruner: reductionFactor must be an integer >= 2, got ${this.eta}`);
    if (this.bootstrap > 0 && this.maxResource === 'auto') throw new Error("HyperbandPruner: bootstrapCount > 0 needs an explicit maxResource (not 'auto')");
  }

  get nBrackets(): number {
    return this.brackets.length;
  }

  async prune(study: Study, trial: FrozenTrial): Promise<boolean> {
    if (this.brackets.length === 0) {
      await this.init(study);
      if (this.brackets.length === 0) return false;
    }
    const b = this.bracketOf(study.studyName, trial.number);
    return this.brackets[b].decide(study, trial, async () => (await study.getTrials()).filter((t) => this.bracketOf(study.studyName, t.number) === b));
  }

  /** The bracket a trial belongs to (stable across processes: a hash, not a counter). */
  bracketOf(studyName: string, trialNumber: number): number {
    if (this.brackets.length === 0) return 0;
    let n = crc32(`${studyName}_${trialNumber}`) % this.totalBudget;
    for (let b = 0; b < this.budgets.length; b++) {
      n -= this.budgets[b];
      if (n < 0) return b;
    }
    return this.budgets.length - 1;
  }

  private async init(study: Study): Promise<void> {
    if (this.maxResource === 'auto') {
      let max = -1;
      for (const t of await study.getTrials({ states: [TrialState.COMPLETE] })) {
        const s = lastStep(t);
        if (s !== null && s > max) max = s;
      }
      if (max < 0) return;
      this.maxResource = max + 1;
    }
    const n = Math.floor(Math.log(this.maxResource / this.minResource) / Math.log(this.eta) + 1e-9) + 1;
    for (let b = 0; b < n; b++) {
      const s = n - 1 - b;
      const budget = Math.ceil((n * this.eta ** s) / (s + 1));
      this.budgets.push(budget);
      this.totalBudget += budget;
      this.brackets.push(
        new SuccessiveHalvingPruner({ minResource: this.minResource, reductionFactor: this.eta, minEarlyStoppingRate: b, bootstrapCount: this.bootstrap }),
      );
    }
  }
}
