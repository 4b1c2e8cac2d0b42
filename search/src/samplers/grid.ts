import { contains, toInternal, type Distribution, type ParamValue } from '../study/distributions';
import type { Study } from '../study/study';
import { FIXED_PARAMS_ATTR } from '../study/trial';
import { TrialState, type FrozenTrial } from '../study/trial-types';
import type { Sampler } from './base';
import { freshSeed, trialRng } from './trial-seed';

/** System attr holding the index of the grid point a trial evaluates. */
export const GRID_ID_ATTR = 'grid_id';

/**
 * Exhaustive search over the Cartesian product of the given values. Each trial takes a grid point
 * no other trial (running or finished) has taken, chosen at random (from the seed and the trial's
 * place, so a resumed study picks as an uninterrupted one) so concurrent workers rarely collide; a
 * trial that carries its parameters (a retry) takes their point; once every point has been tried, the study's optimize() loop is stopped. If points run
 * out while trials are still being asked (several workers), a random point is re-evaluated.
 */
export class GridSampler implements Sampler {
  private readonly names: string[];
  private readonly grid: ParamValue[][];
  private seed: number;

  /** `new GridSampler({ x: [1, 2] }, seed)` or `new GridSampler({ searchSpace: { x: [1, 2] }, seed })`. */
  constructor(
    searchSpace: Record<string, readonly ParamValue[]> | { searchSpace: Record<string, readonly ParamValue[]>; seed?: number | null },
    seed?: number | null,
  ) {
    const o = searchSpace as { searchSpace?: unknown; seed?: number | null };
    if (o.searchSpace !== null && typeof o.searchSpace === 'object' && !Array.isArray(o.searchSpace)) {
      seed = o.seed ?? seed;
      searchSpace = o.searchSpace as Record<string, readonly ParamValue[]>;
    }
    if (searchSpace === null || typeof searchSpace !== 'object') throw new Error(`GridSampler: expected a search space {name: [values]}, got ${JSON.stringify(searchSpace)}`);
    const space = searchSpace as Record<string, readonly ParamValue[]>;
    this.names = Object.keys(space).sort();
    for (const n of this.names) {
      const vs = space[n];
      if (!Array.isArray(vs) || vs.length === 0) throw new Error(`GridSampler: parameter "${n}" needs a non-empty list of values, got ${JSON.stringify(vs)}`);
    }
    this.grid = cartesian(this.names.map((n) => [...space[n]]));
    this.seed = seed ?? freshSeed();
  }

  get size(): number {
    return this.grid.length;
  }

  reseedRng(): void {
    this.seed = freshSeed();
  }

  async inferRelativeSearchSpace(): Promise<Record<string, Distribution>> {
    return {};
  }

  async sampleRelative(): Promise<Record<string, number>> {
    return {};
  }

  async beforeTrial(study: Study, trial: FrozenTrial): Promise<void> {
    if (GRID_ID_ATTR in trial.systemAttrs) return;
    const own = this.pointOf(trial.systemAttrs[FIXED_PARAMS_ATTR] as Record<string, ParamValue> | undefined);
    if (own >= 0) return study.storage.setTrialSystemAttr(trial.trialId, GRID_ID_ATTR, own);
    const taken = new Set<number>();
    for (const t of await study.getTrials({ states: [TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL] })) {
      if (t.number !== trial.number && typeof t.systemAttrs[GRID_ID_ATTR] === 'number') taken.add(t.systemAttrs[GRID_ID_ATTR] as number);
    }
    const free: number[] = [];
    for (let i = 0; i < this.grid.length; i++) if (!taken.has(i)) free.push(i);
    const rng = await trialRng(this.seed, study, trial, 'grid');
    const id = free.length ? free[rng.randInt(free.length)] : rng.randInt(this.grid.length);
    await study.storage.setTrialSystemAttr(trial.trialId, GRID_ID_ATTR, id);
  }

  /** The grid point of fixed parameters, or -1 when they do not name one. */
  private pointOf(fixed: Record<string, ParamValue> | undefined): number {
    if (!fixed || !this.names.every((n) => n in fixed)) return -1;
    return this.grid.findIndex((p) => this.names.every((n, k) => p[k] === fixed[n]));
  }

  async sampleIndependent(_study: Study, trial: FrozenTrial, name: string, d: Distribution): Promise<number> {
    const k = this.names.indexOf(name);
    if (k < 0) throw new Error(`GridSampler: the objective asked for "${name}", which is not in the grid (${this.names.join(', ')})`);
    const id = trial.systemAttrs[GRID_ID_ATTR] as number;
    const value = this.grid[id][k];
    let internal: number;
    try {
      internal = toInternal(d, value);
    } catch {
      throw new Error(`GridSampler: grid value ${JSON.stringify(value)} of "${name}" is not one of the suggested choices`);
    }
    if (!contains(d, internal)) throw new Error(`GridSampler: grid value ${JSON.stringify(value)} of "${name}" is outside the suggested range [${(d as { low: number }).low}, ${(d as { high: number }).high}]`);
    return internal;
  }

  async afterTrial(study: Study, trial: FrozenTrial): Promise<void> {
    const done = new Set<number>();
    for (const t of await study.getTrials({ states: [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL] })) {
      if (typeof t.systemAttrs[GRID_ID_ATTR] === 'number') done.add(t.systemAttrs[GRID_ID_ATTR] as number);
    }
    done.add(trial.systemAttrs[GRID_ID_ATTR] as number);
    if (done.size >= this.grid.length) study.stop();
  }
}

function cartesian(lists: ParamValue[][]): ParamValue[][] {
  let out: ParamValue[][] = [[]];
  for (const l of lists) out = out.flatMap((prefix) => l.map((v) => [...prefix, v]));
  return out;
}
