import { StudyDirection, type FrozenTrial } from './trial-types';

/** Values turned into "smaller is better" for every objective. */
export function toMinimization(values: readonly number[], directions: readonly StudyDirection[]): number[] {
  return values.map((v, i) => (directions[i] === StudyDirection.MAXIMIZE ? -v : v));
}

/** a dominates b (minimisation): no worse in every objective and better in at least one. */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

/**
 * Non-dominated sorting: rank 0 is the Pareto front, rank 1 the front once rank 0 is removed, ...
 * Points are minimised. O(M N^2), enough for the study sizes this driver handles.
 */
export function nonDominatedRanks(points: readonly (readonly number[])[]): number[] {
  const n = points.length;
  const dominatedBy = new Array<number>(n).fill(0);
  const dominating: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (dominates(points[i], points[j])) {
        dominating[i].push(j);
        dominatedBy[j]++;
      } else if (dominates(points[j], points[i])) {
        dominating[j].push(i);
        dominatedBy[i]++;
      }
    }
  }
  const rank = new Array<number>(n).fill(-1);
  let front = [];
  for (let i = 0; i < n; i++) if (dominatedBy[i] === 0) front.push(i);
  let r = 0;
  while (front.length) {
    const next: number[] = [];
    for (const i of front) {
      rank[i] = r;
      for (const j of dominating[i]) if (--dominatedBy[j] === 0) next.push(j);
    }
    front = next;
    r++;
  }
  return rank;
}

/** Trials on the Pareto front of `trials` (which must all have values), in their input order. */
export function paretoFront(trials: readonly FrozenTrial[], directions: readonly StudyDirection[]): FrozenTrial[] {
  const pts = trials.map((t) => toMinimization(t.values as number[], directions));
  const ranks = nonDominatedRanks(pts);
  return trials.filter((_, i) => ranks[i] === 0);
}

/**
 * Hypervolume dominated by `points` (minimised) up to `ref`. Exact, by recursive slicing on the
 * first objective (fine for the 2-4 objectives and few hundred points of a study).
 */
export function hypervolume(points: readonly (readonly number[])[], ref: readonly number[]): number {
  const pts = points.filter((p) => p.every((v, i) => v < ref[i]));
  if (pts.length === 0) return 0;
  const m = ref.length;
  if (m === 1) return ref[0] - Math.min(...pts.map((p) => p[0]));
  if (m === 2) {
    const sorted = [...pts].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let hv = 0;
    let bestY = ref[1];
    for (const p of sorted) {
      if (p[1] < bestY) {
        hv += (ref[0] - p[0]) * (bestY - p[1]);
        bestY = p[1];
      }
    }
    return hv;
  }
  // Slice along the last objective: between consecutive levels the dominated region is the
  // (m-1)-dimensional hypervolume of the points at or below that level.
  const sorted = [...pts].sort((a, b) => a[m - 1] - b[m - 1]);
  let hv = 0;
  for (let i = 0; i < sorted.length; i++) {
    const lo = sorted[i][m - 1];
    const hi = i + 1 < sorted.length ? sorted[i + 1][m - 1] : ref[m - 1];
    if (hi <= lo) continue;
    const slice = sorted.slice(0, i + 1).map((p) => p.slice(0, m - 1));
    hv += hypervolume(slice, ref.slice(0, m - 1)) * (hi - lo);
  }
  return hv;
}
