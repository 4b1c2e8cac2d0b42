import { toInternal, type Distribution } from '../study/distributions';
import { dominates, nonDominatedRanks, toMinimization } from '../study/pareto';
import type { Rng } from '../study/rng';
import { IntersectionSearchSpace } from '../study/search-space';
import type { Study } from '../study/study';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import type { Sampler } from './base';
import { RandomSampler } from './random';
import { freshSeed, trialRng } from './trial-seed';

export const NSGA2_GENERATION_ATTR = 'NSGAIISampler:generation';
const PARENTS_ATTR_PREFIX = 'NSGAIISampler:parent:';

export interface NSGAIISamplerOptions {
  seed?: number | null;
  /** Default 50. */
  populationSize?: number;
  /** Per parameter, chance to be redrawn at random instead of inherited. Default 1 / number of parameters. */
  mutationProb?: number | null;
  /** Chance a child mixes two parents (else it copies one). Default 0.9. */
  crossoverProb?: number;
  /** Uniform crossover: chance each parameter comes from the second parent. Default 0.5. */
  swappingProb?: number;
}

/**
 * NSGA-II for several objectives: trials are grouped into generations of `populationSize`; the parents
 * of generation g are the elite of generation g-1 and its parents (by Pareto rank, then crowding
 * distance). A child takes its parameters from two tournament-selected parents by uniform crossover;
 * each parameter is re-drawn at random with the mutation probability. Generation numbers and
 * parent lists live in storage attributes, so workers on a shared storage cooperate.
 */
export class NSGAIISampler implements Sampler {
  private seed: number;
  private readonly random: RandomSampler;
  private readonly populationSize: number;
  private readonly mutationProb: number | null;
  private readonly crossoverProb: number;
  private readonly swappingProb: number;
  private readonly space = new IntersectionSearchSpace();

  constructor(opts: NSGAIISamplerOptions = {}) {
    this.seed = opts.seed ?? freshSeed();
    this.random = new RandomSampler(opts.seed === undefined || opts.seed === null ? null : opts.seed + 1);
    this.populationSize = opts.populationSize ?? 50;
    this.mutationProb = opts.mutationProb ?? null;
    this.crossoverProb = opts.crossoverProb ?? 0.9;
    this.swappingProb = opts.swappingProb ?? 0.5;
    if (!(Number.isInteger(this.populationSize) && this.populationSize >= 2)) throw new Error(`NSGAIISampler: populationSize must be an integer >= 2, got ${this.populationSize}`);
    for (const [k, v] of [['mutationProb', this.mutationProb ?? 0], ['crossoverProb', this.crossoverProb], ['swappingProb', this.swappingProb]] as const) {
      if (!(v >= 0 && v <= 1)) throw new Error(`NSGAIISampler: ${k} must be in [0, 1], got ${v}`);
    }
  }

  reseedRng(): void {
    this.seed = freshSeed();
    this.random.reseedRng();
  }

  /** Assigns the trial's generation: the newest one until it has populationSize complete trials. */
  async beforeTrial(study: Study, trial: FrozenTrial): Promise<void> {
    if (NSGA2_GENERATION_ATTR in trial.systemAttrs) return;
    const complete = await study.getTrials({ states: [TrialState.COMPLETE], useCache: true });
    let maxGen = 0;
    let count = 0;
    for (const t of complete) {
      const g = (t.systemAttrs[NSGA2_GENERATION_ATTR] as number | undefined) ?? -1;
      if (g > maxGen) {
        maxGen = g;
        count = 1;
      } else if (g === maxGen) count++;
    }
    const gen = count < this.populationSize ? maxGen : maxGen + 1;
    await study.storage.setTrialSystemAttr(trial.trialId, NSGA2_GENERATION_ATTR, gen);
  }

  async inferRelativeSearchSpace(study: Study): Promise<Record<string, Distribution>> {
    const out: Record<string, Distribution> = {};
    for (const [name, d] of Object.entries(this.space.calculate(await study.getTrials({ useCache: true }), `${study.studyId}:${study.studyName}`))) {
      const single = d.kind === 'categorical' ? d.choices.length === 1 : d.low === d.high;
      if (!single) out[name] = d;
    }
    return out;
  }

  async sampleRelative(study: Study, trial: FrozenTrial, space: Record<string, Distribution>): Promise<Record<string, number>> {
    const gen = (trial.systemAttrs[NSGA2_GENERATION_ATTR] as number | undefined) ?? 0;
    if (gen === 0) return {};
    const parents = await this.parentPopulation(study, gen);
    const names = Object.keys(space).filter((n) => parents.every((p) => n in p.params));
    if (parents.length === 0 || names.length === 0) return {};
    const rng = await trialRng(this.seed, study, trial, 'nsga2');
    let child: Record<string, number>;
    const internal = (t: FrozenTrial): Record<string, number> => Object.fromEntries(names.map((n) => [n, toInternal(space[n], t.params[n])]));
    if (rng.random() < this.crossoverProb && parents.length >= 2) {
      const a = internal(this.tournament(rng, parents, study));
      const b = internal(this.tournament(rng, parents, study));
      child = {};
      for (const n of names) child[n] = rng.random() < this.swappingProb ? b[n] : a[n];
    } else {
      child = internal(parents[rng.randInt(parents.length)]);
    }
    const pm = this.mutationProb ?? 1 / Math.max(1, names.length);
    const out: Record<string, number> = {};
    // A mutated parameter is left out, so the study draws it independently (at random).
    for (const n of names) if (rng.random() >= pm) out[n] = child[n];
    return out;
  }

  async sampleIndependent(study: Study, trial: FrozenTrial, name: string, d: Distribution): Promise<number> {
    return this.random.sampleIndependent(study, trial, name, d);
  }

  /** Binary tournament: of two random parents, the dominating one (else the first). */
  private tournament(rng: Rng, parents: FrozenTrial[], study: Study): FrozenTrial {
    const a = parents[rng.randInt(parents.length)];
    const b = parents[rng.randInt(parents.length)];
    const va = toMinimization(a.values as number[], study.directions);
    const vb = toMinimization(b.values as number[], study.directions);
    return dominates(vb, va) ? b : a;
  }

  private async parentPopulation(study: Study, gen: number): Promise<FrozenTrial[]> {
    if (gen === 0) return [];
    const key = PARENTS_ATTR_PREFIX + gen;
    const all = await study.getTrials({ useCache: true });
    const cached = (await study.storage.getStudySystemAttrs(study.studyId))[key] as number[] | undefined;
    if (cached) {
      const ids = new Set(cached);
      return all.filter((t) => ids.has(t.trialId));
    }
    const previous = await this.parentPopulation(study, gen - 1);
    const members = all.filter((t) => t.state === TrialState.COMPLETE && t.systemAttrs[NSGA2_GENERATION_ATTR] === gen - 1);
    const elite = eliteSelection([...previous, ...members], study, this.populationSize);
    await study.storage.setStudySystemAttr(study.studyId, key, elite.map((t) => t.trialId));
    return elite;
  }
}

/** The best `size` trials: whole Pareto fronts while they fit, the next front cut by crowding distance. */
export function eliteSelection(population: FrozenTrial[], study: Pick<Study, 'directions'>, size: number): FrozenTrial[] {
  const pts = population.map((t) => toMinimization(t.values as number[], study.directions));
  const ranks = nonDominatedRanks(pts);
  const fronts: FrozenTrial[][] = [];
  ranks.forEach((r, i) => (fronts[r] ??= []).push(population[i]));
  const elite: FrozenTrial[] = [];
  for (const front of fronts) {
    if (elite.length + front.length < size) {
      elite.push(...front);
      continue;
    }
    const cd = crowdingDistance(front);
    const sorted = front.map((t, i) => ({ t, d: cd[i] })).sort((x, y) => y.d - x.d);
    elite.push(...sorted.slice(0, size - elite.length).map((x) => x.t));
    break;
  }
  return elite;
}

/**
 * Crowding distance: per objective, the normalised gap between a point's two neighbours (boundary
 * points get infinity). Larger means more isolated, so it is kept to preserve diversity.
 */
export function crowdingDistance(front: FrozenTrial[]): number[] {
  const n = front.length;
  const dist = new Array<number>(n).fill(0);
  if (n === 0) return dist;
  const m = (front[0].values as number[]).length;
  for (let j = 0; j < m; j++) {
    const order = front.map((_, i) => i).sort((a, b) => (front[a].values as number[])[j] - (front[b].values as number[])[j]);
    const v = order.map((i) => (front[i].values as number[])[j]);
    if (v[0] === v[n - 1]) continue;
    const width = v[n - 1] - v[0];
    for (let k = 0; k < n; k++) {
      const lo = k === 0 ? -Infinity : v[k - 1];
      const hi = k === n - 1 ? Infinity : v[k + 1];
      dist[order[k]] += lo === hi ? 0 : (hi - lo) / width;
    }
  }
  return dist;
}
