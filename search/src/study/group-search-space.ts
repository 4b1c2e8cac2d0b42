import type { Distribution } from './distributions';
import { TrialState, type FrozenTrial } from './trial-types';

/**
 * Splits the parameters seen so far into groups that always appear together (conditional
 * parameters of one branch form a group), so a multivariate sampler can model each group jointly
 * even when no parameter set is shared by every trial. Each new trial's parameter set cuts every
 * existing group into "in this trial" and "not in this trial"; its new parameters form a new group.
 * Kept incrementally, like IntersectionSearchSpace.
 */
export class GroupDecomposedSearchSpace {
  private groups: Record<string, Distribution>[] = [];
  private seen = new Set<number>();
  private studyKey: string | number | null = null;

  constructor(private readonly includePruned = false) {}

  calculate(trials: readonly FrozenTrial[], studyKey: string | number | null = null): Record<string, Distribution>[] {
    if (studyKey !== this.studyKey) {
      this.studyKey = studyKey;
      this.groups = [];
      this.seen = new Set();
    }
    for (const t of trials) {
      const ok = t.state === TrialState.COMPLETE || (this.includePruned && t.state === TrialState.PRUNED);
      if (!ok || this.seen.has(t.number)) continue;
      this.seen.add(t.number);
      this.add(t.distributions);
    }
    return this.groups.map((g) => {
      const out: Record<string, Distribution> = {};
      for (const name of Object.keys(g).sort()) out[name] = g[name];
      return out;
    });
  }

  private add(dists: Record<string, Distribution>): void {
    const fresh = new Set(Object.keys(dists));
    const next: Record<string, Distribution>[] = [];
    for (const g of this.groups) {
      const inTrial: Record<string, Distribution> = {};
      const notInTrial: Record<string, Distribution> = {};
      for (const name of Object.keys(g)) {
        if (name in dists) {
          inTrial[name] = dists[name];
          fresh.delete(name);
        } else notInTrial[name] = g[name];
      }
      next.push(inTrial, notInTrial);
    }
    const added: Record<string, Distribution> = {};
    for (const name of fresh) added[name] = dists[name];
    next.push(added);
    this.groups = next.filter((g) => Object.keys(g).length > 0);
  }
}
