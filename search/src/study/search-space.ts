import { sameDistribution, type Distribution } from './distributions';
import { TrialState, type FrozenTrial } from './trial-types';

/**
 * The parameters (with identical distributions) present in every finished trial: the space a
 * relative sampler can model jointly. Like Optuna's IntersectionSearchSpace, it is kept
 * incrementally so each ask looks only at trials finished since the last one.
 */
export class IntersectionSearchSpace {
  private space: Record<string, Distribution> | null = null;
  private seen = new Set<number>();

  constructor(private readonly includePruned = false) {}

  calculate(trials: readonly FrozenTrial[]): Record<string, Distribution> {
    for (const t of trials) {
      const ok = t.state === TrialState.COMPLETE || (this.includePruned && t.state === TrialState.PRUNED);
      if (!ok || this.seen.has(t.number)) continue;
      this.seen.add(t.number);
      if (this.space === null) {
        this.space = { ...t.distributions };
        continue;
      }
      for (const name of Object.keys(this.space)) {
        const d = t.distributions[name];
        if (!d || !sameDistribution(d, this.space[name])) delete this.space[name];
      }
    }
    const out: Record<string, Distribution> = {};
    // Sorted names make joint draws independent of the order in which the objective asked.
    for (const name of Object.keys(this.space ?? {}).sort()) out[name] = (this.space as Record<string, Distribution>)[name];
    return out;
  }
}
