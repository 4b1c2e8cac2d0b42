import type { Distribution } from '../study/distributions';
import { Rng } from '../study/rng';
import type { Study } from '../study/study';
import { FIXED_PARAMS_ATTR } from '../study/trial';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import type { Sampler } from './base';
import { RandomSampler } from './random';
import { SobolSequence } from './sobol';
import { drawPlace, freshSeed } from './trial-seed';
import { fromUnit } from './unit-transform';

export interface QMCSamplerOptions {
  /** Seeds the scrambling; every worker of a study must use the same seed to share one sequence. */
  seed?: number | null;
  /** Randomise the sequence (LMS + digital shift). Default true. */
  scramble?: boolean;
  /** For parameters outside the joint space (and the first trial). Default: RandomSampler(seed). */
  independentSampler?: Sampler;
}

/**
 * Quasi-random search: the trial in place n (see drawPlace) takes point n of a (scrambled) Sobol
 * sequence over the search space of the first complete trial, so the start-up points cover the space
 * more evenly than random ones. Indexing by place makes concurrent workers draw distinct points
 * without coordination, and a resumed study continue the sequence where it stopped.
 */
export class QMCSampler implements Sampler {
  private readonly seed: number;
  private readonly scramble: boolean;
  private readonly independent: Sampler;
  private space: Record<string, Distribution> | null = null;
  private spaceStudy: string | null = null;
  private sequence: SobolSequence | null = null;

  constructor(opts: QMCSamplerOptions = {}) {
    this.seed = opts.seed ?? freshSeed();
    this.scramble = opts.scramble ?? true;
    this.independent = opts.independentSampler ?? new RandomSampler(opts.seed);
  }

  reseedRng(): void {
    // The sequence seed must stay shared across workers; only the independent fallback is reseeded.
    this.independent.reseedRng?.();
  }

  async inferRelativeSearchSpace(study: Study): Promise<Record<string, Distribution>> {
    const key = `${study.studyId}:${study.studyName}`;
    if (this.space && this.spaceStudy === key) return this.space;
    const complete = await study.getTrials({ states: [TrialState.COMPLETE], useCache: true });
    if (complete.length === 0) return {};
    const first = complete[0];
    const space: Record<string, Distribution> = {};
    for (const name of Object.keys(first.distributions).sort()) {
      const d = first.distributions[name];
      const single = d.kind === 'categorical' ? d.choices.length === 1 : d.low === d.high;
      if (!single) space[name] = d;
    }
    this.space = space;
    this.spaceStudy = key;
    return space;
  }

  async sampleRelative(study: Study, trial: FrozenTrial, space: Record<string, Distribution>): Promise<Record<string, number>> {
    const names = Object.keys(space).sort();
    // A trial that carries its parameters has no place in the sequence: what it lacks is drawn at random.
    if (names.length === 0 || trial.systemAttrs[FIXED_PARAMS_ATTR] !== undefined) return {};
    if (!this.sequence || this.sequence.dims !== names.length) {
      this.sequence = new SobolSequence(names.length, this.scramble ? new Rng(this.seed) : null);
    }
    const u = this.sequence.point(await drawPlace(study, trial));
    const out: Record<string, number> = {};
    names.forEach((name, i) => (out[name] = fromUnit(space[name], u[i])));
    return out;
  }

  async sampleIndependent(study: Study, trial: FrozenTrial, name: string, d: Distribution): Promise<number> {
    return this.independent.sampleIndependent(study, trial, name, d);
  }
}
