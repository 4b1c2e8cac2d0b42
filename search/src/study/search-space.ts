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
  private studyKey: string | number | null = null;

  constructor(private readonly includePruned = false) {}

  /** `studyKey` (e.g. the study id) resets the incremental state when one sampler serves another study. */
  calculate(trials: readonly FrozenTrial[], studyKey: string | number | null = null): Record<string, Distribution> {
    if (studyKey !== this.studyKey) {
      this.studyKey = studyKey;
      this.space = null;
      this.seen = new Set();
    }
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
