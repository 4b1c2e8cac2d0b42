import { toInternal, type Distribution, type ParamValue } from '../../study/distributions';
import { GroupDecomposedSearchSpace } from '../../study/group-search-space';
import { IntersectionSearchSpace } from '../../study/search-space';
import type { Study } from '../../study/study';
import { TrialState, type FrozenTrial } from '../../study/trial-types';
import type { Sampler } from '../base';
import { RandomSampler } from '../random';
import { freshSeed, trialRng } from '../trial-seed';
import { ParzenEstimator, type ParzenEstimatorParameters } from './parzen-estimator';
import { defaultGamma, defaultGammaMultiObjective, defaultWeights, splitTrials } from './split';

/** System attr where a RUNNING trial's joint draw is shared, so other workers can "lie" about it. */
export const TPE_RELATIVE_PARAMS_ATTR = 'tpe:relative_params';

export interface TPESamplerOptions {
  seed?: number | null;
  /** Finished (COMPLETE or PRUNED) trials drawn by the start-up sampler before TPE takes over. Default 10. */
  nStartupTrials?: number;
  /** Candidates drawn from the "good" density; the best ratio good/bad wins. Default 24. */
  nEiCandidates?: number;
  /** Size of the "good" group given n finished trials. Default: 10%, at most 25 (no cap for several objectives). */
  gamma?: (n: number) => number;
  /** Observation weights by recency. Default: defaultWeights. */
  weights?: (n: number) => number[];
  /** Default 1. */
  priorWeight?: number;
  /** Default true. */
  considerMagicClip?: boolean;
  /** Default false. */
  considerEndpoints?: boolean;
  /** Model the parameters jointly. Default: true for one objective, false for several (as Optuna 5). */
  multivariate?: boolean;
  /**
   * Multivariate over groups of parameters that always appear together (conditional search spaces),
   * instead of only over the parameters every trial has. Needs multivariate. Default false.
   */
  group?: boolean;
  /** Count RUNNING trials as bad so parallel workers spread out. Default true (as Optuna 5). */
  constantLiar?: boolean;
  /** Draws the start-up trials. Default: RandomSampler with the same seed; a QMCSampler is another choice. */
  startupSampler?: Sampler;
}

/**
 * Tree-structured Parzen Estimator: splits finished trials into a good and a bad group, fits a
 * Parzen density to each, and proposes the candidate (drawn from the good density) that maximises
 * good/bad. Independent (one parameter at a time) or multivariate (jointly over the parameters
 * every trial has); several objectives split by Pareto rank and hypervolume (MOTPE).
 */
export class TPESampler implements Sampler {
  private seed: number;
  private readonly startup: Sampler;
  private readonly nStartupTrials: number;
  private readonly nEiCandidates: number;
  private readonly gamma: ((n: number) => number) | null;
  private readonly pe: ParzenEstimatorParameters;
  private readonly multivariateOpt: boolean | undefined;
  private readonly constantLiar: boolean;
  private readonly space = new IntersectionSearchSpace(true);
  private readonly group: boolean;
  private readonly groupSpace = new GroupDecomposedSearchSpace(true);
  private groups: Record<string, Distribution>[] = [];

  constructor(opts: TPESamplerOptions = {}) {
    this.seed = opts.seed ?? freshSeed();
    this.startup = opts.startupSampler ?? new RandomSampler(this.seed);
    this.nStartupTrials = opts.nStartupTrials ?? 10;
    this.nEiCandidates = opts.nEiCandidates ?? 24;
    if (!(Number.isInteger(this.nStartupTrials) && this.nStartupTrials >= 0)) throw new Error(`TPESampler: nStartupTrials must be an integer >= 0, got ${this.nStartupTrials}`);
    if (!(Number.isInteger(this.nEiCandidates) && this.nEiCandidates >= 1)) throw new Error(`TPESampler: nEiCandidates must be an integer >= 1, got ${this.nEiCandidates}`);
    this.gamma = opts.gamma ?? null;
    this.pe = {
      priorWeight: opts.priorWeight ?? 1,
      considerMagicClip: opts.considerMagicClip ?? true,
      considerEndpoints: opts.considerEndpoints ?? false,
      weights: opts.weights ?? defaultWeights,
    };
    if (!(this.pe.priorWeight >= 0)) throw new Error(`TPESampler: priorWeight must be >= 0, got ${this.pe.priorWeight}`);
    this.multivariateOpt = opts.multivariate;
    this.constantLiar = opts.constantLiar ?? true;
    this.group = opts.group ?? false;
    if (this.group && this.multivariateOpt === false) throw new Error('TPESampler: group=true needs multivariate (leave multivariate unset or true)');
  }

  reseedRng(): void {
    this.seed = freshSeed();
    this.startup.reseedRng?.();
  }

  private multivariate(study: Study): boolean {
    return this.multivariateOpt ?? (this.group || !study.isMultiObjective);
  }

  private async nFinished(study: Study): Promise<number> {
    return (await study.getTrials({ states: [TrialState.COMPLETE, TrialState.PRUNED], useCache: true })).length;
  }

  async inferRelativeSearchSpace(study: Study, trial: FrozenTrial): Promise<Record<string, Distribution>> {
    if ((await this.nFinished(study)) < this.nStartupTrials) return this.startup.inferRelativeSearchSpace(study, trial);
    if (!this.multivariate(study)) return {};
    const trials = await study.getTrials({ useCache: true });
    const key = `${study.studyId}:${study.studyName}`;
    const out: Record<string, Distribution> = {};
    if (this.group) {
      this.groups = this.groupSpace.calculate(trials, key);
      for (const g of this.groups) {
        for (const [name, d] of Object.entries(g)) {
          const single = d.kind === 'categorical' ? d.choices.length === 1 : d.low === d.high;
          if (!single) out[name] = d;
        }
      }
      return out;
    }
    for (const [name, d] of Object.entries(this.space.calculate(trials, key))) {
      const single = d.kind === 'categorical' ? d.choices.length === 1 : d.low === d.high;
      if (!single) out[name] = d;
    }
    return out;
  }

  async sampleRelative(study: Study, trial: FrozenTrial, searchSpace: Record<string, Distribution>): Promise<Record<string, number>> {
    if (Object.keys(searchSpace).length === 0) return {};
    if ((await this.nFinished(study)) < this.nStartupTrials) return this.startup.sampleRelative(study, trial, searchSpace);
    let params: Record<string, number> = {};
    if (this.group) {
      // One joint draw per group, each fitted on the trials that have that group's parameters.
      for (const g of this.groups) {
        const sub: Record<string, Distribution> = {};
        for (const name of Object.keys(g)) if (name in searchSpace) sub[name] = searchSpace[name];
        if (Object.keys(sub).length) params = { ...params, ...(await this.sample(study, trial, sub)) };
      }
    } else {
      params = await this.sample(study, trial, searchSpace);
    }
    if (this.constantLiar) {
      const external: Record<string, ParamValue> = {};
      for (const [name, d] of Object.entries(searchSpace)) {
        if (name in params) external[name] = d.kind === 'categorical' ? d.choices[params[name]] : params[name];
      }
      await study.storage.setTrialSystemAttr(trial.trialId, TPE_RELATIVE_PARAMS_ATTR, external);
    }
    return params;
  }

  async sampleIndependent(study: Study, trial: FrozenTrial, name: string, d: Distribution): Promise<number> {
    if ((await this.nFinished(study)) < this.nStartupTrials) return this.startup.sampleIndependent(study, trial, name, d);
    return (await this.sample(study, trial, { [name]: d }))[name];
  }

  async beforeTrial(study: Study, trial: FrozenTrial): Promise<void> {
    await this.startup.beforeTrial?.(study, trial);
  }

  async afterTrial(study: Study, trial: FrozenTrial, state: TrialState, values: number[] | null): Promise<void> {
    await this.startup.afterTrial?.(study, trial, state, values);
  }

  /** One TPE step over `space`: internal values of the winning candidate. */
  private async sample(study: Study, trial: FrozenTrial, space: Record<string, Distribution>): Promise<Record<string, number>> {
    let trials: FrozenTrial[];
    if (this.constantLiar) {
      // Fresh read: the RUNNING trials other workers started since this ask began are the point.
      trials = (await study.getTrials({ states: [TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING] })).filter(
        (t) => t.number !== trial.number,
      );
    } else {
      trials = await study.getTrials({ states: [TrialState.COMPLETE, TrialState.PRUNED], useCache: true });
    }
    const n = trials.reduce((c, t) => c + (t.state !== TrialState.RUNNING ? 1 : 0), 0);
    const gamma = this.gamma ?? (study.isMultiObjective ? defaultGammaMultiObjective : defaultGamma);
    const { below, above } = splitTrials(trials, study.directions, gamma(n));
    const multivariate = this.multivariate(study);
    const obsBelow = this.observations(below, space, multivariate);
    const obsAbove = this.observations(above, space, multivariate);
    const nBelow = obsBelow[Object.keys(space)[0]].length;
    // MOTPE weighs the good group uniformly (as Optuna 5): recency does not make a Pareto point better.
    const peBelow = new ParzenEstimator(obsBelow, space, this.pe, study.isMultiObjective && nBelow > 0 ? new Array<number>(nBelow).fill(1) : undefined);
    const peAbove = new ParzenEstimator(obsAbove, space, this.pe);
    // The trial's own stream (seed, place, parameters): the same history gives the same point.
    const rng = await trialRng(this.seed, study, trial, `tpe:${Object.keys(space).sort().join(',')}`);
    const candidates = peBelow.sample(rng, this.nEiCandidates);
    const lb = peBelow.logPdf(candidates);
    const la = peAbove.logPdf(candidates);
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < lb.length; i++) {
      const score = lb[i] - la[i];
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    const out: Record<string, number> = {};
    for (const name of Object.keys(space)) out[name] = candidates[name][best];
    return out;
  }

  /** Internal values of the trials that have every parameter of `space` (RUNNING ones: their shared joint draw too). */
  private observations(trials: FrozenTrial[], space: Record<string, Distribution>, multivariate: boolean): Record<string, number[]> {
    const names = Object.keys(space);
    const out: Record<string, number[]> = {};
    for (const name of names) out[name] = [];
    for (const t of trials) {
      let params: Record<string, ParamValue> = t.params;
      if (t.state === TrialState.RUNNING && multivariate) {
        const shared = t.systemAttrs[TPE_RELATIVE_PARAMS_ATTR] as Record<string, ParamValue> | undefined;
        if (shared) params = { ...shared, ...t.params };
      }
      if (!names.every((name) => name in params)) continue;
      let ok = true;
      const row: number[] = [];
      for (const name of names) {
        try {
          row.push(toInternal(space[name], params[name]));
        } catch {
          ok = false; // a categorical choice this space no longer has
          break;
        }
      }
      if (!ok) continue;
      names.forEach((name, i) => out[name].push(row[i]));
    }
    return out;
  }
}
