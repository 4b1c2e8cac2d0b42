import { hypervolume, nonDominatedRanks, toMinimization } from '../../study/pareto';
import { StudyDirection, TrialState, type FrozenTrial } from '../../study/trial-types';

/** How many of n finished trials form the "good" group: 10%, at most 25 (Optuna 5's default). */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Multi-objective studies keep 10% without the cap. */
export function defaultGammaMultiObjective(n: number): number {
  return Math.ceil(0.1 * n);
}

/** Hyperopt's rule (ceil(0.25 sqrt(n)), at most 25), offered for comparison. */
export function hyperoptGamma(n: number): number {
  return Math.min(Math.ceil(0.25 * Math.sqrt(n)), 25);
}

/**
 * Observation weights in trial-number order: flat up to 25 observations; beyond, the oldest n-25
 * ramp linearly from 1/n up to 1 so old trials count less than the latest 25.
 */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const m = n - 25;
  const ramp = new Array<number>(m);
  for (let i = 0; i < m; i++) ramp[i] = m === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (m - 1);
  return [...ramp, ...new Array<number>(25).fill(1)];
}

/**
 * Splits trials into "below" (good, nBelow of them) and "above" (the rest). COMPLETE trials rank by
 * value (Pareto rank then hypervolume contribution when several objectives); PRUNED ones fill what
 * is left of "below" by progress: later last step first, then better last value. RUNNING trials
 * always go "above": that is the constant liar, which keeps parallel workers off the points others
 * are evaluating. Both groups come back in trial-number order (the weights depend on it).
 */
export function splitTrials(
  trials: readonly FrozenTrial[],
  directions: readonly StudyDirection[],
  nBelow: number,
): { below: FrozenTrial[]; above: FrozenTrial[] } {
  const complete: FrozenTrial[] = [];
  const pruned: FrozenTrial[] = [];
  const running: FrozenTrial[] = [];
  for (const t of trials) {
    if (t.state === TrialState.RUNNING) running.push(t);
    else if (t.state === TrialState.COMPLETE) complete.push(t);
    else if (t.state === TrialState.PRUNED) pruned.push(t);
  }
  const [belowC, aboveC] = directions.length <= 1 ? splitCompleteSingle(complete, directions[0], nBelow) : splitCompleteMulti(complete, directions, nBelow);
  const rest = Math.max(0, nBelow - belowC.length);
  const [belowP, aboveP] = splitPruned(pruned, directions[0], rest);
  const byNumber = (a: FrozenTrial, b: FrozenTrial): number => a.number - b.number;
  return { below: [...belowC, ...belowP].sort(byNumber), above: [...aboveC, ...aboveP, ...running].sort(byNumber) };
}

function splitCompleteSingle(trials: FrozenTrial[], dir: StudyDirection, nBelow: number): [FrozenTrial[], FrozenTrial[]] {
  const sign = dir === StudyDirection.MAXIMIZE ? -1 : 1;
  // Stable sort: ties keep trial-number order.
  const sorted = [...trials].sort((a, b) => sign * ((a.values as number[])[0] - (b.values as number[])[0]));
  const k = Math.min(nBelow, sorted.length);
  return [sorted.slice(0, k), sorted.slice(k)];
}

/** (-last step, last value oriented to minimise): smaller is more promising. No reports rank last. */
export function prunedScore(t: FrozenTrial, dir: StudyDirection): [number, number] {
  if (t.intermediateValues.size === 0) return [1, 0];
  let step = -Infinity;
  for (const s of t.intermediateValues.keys()) if (s > step) step = s;
  const v = t.intermediateValues.get(step) as number;
  if (Number.isNaN(v)) return [-step, Infinity];
  return [-step, dir === StudyDirection.MAXIMIZE ? -v : v];
}

function splitPruned(trials: FrozenTrial[], dir: StudyDirection, nBelow: number): [FrozenTrial[], FrozenTrial[]] {
  const scored = trials.map((t) => ({ t, s: prunedScore(t, dir) }));
  scored.sort((a, b) => a.s[0] - b.s[0] || a.s[1] - b.s[1]);
  const k = Math.min(nBelow, scored.length);
  return [scored.slice(0, k).map((x) => x.t), scored.slice(k).map((x) => x.t)];
}

function splitCompleteMulti(trials: FrozenTrial[], directions: readonly StudyDirection[], nBelow: number): [FrozenTrial[], FrozenTrial[]] {
  const k = Math.min(nBelow, trials.length);
  if (k === 0) return [[], [...trials]];
  if (k === trials.length) return [[...trials], []];
  const pts = trials.map((t) => toMinimization(t.values as number[], directions));
  const ranks = nonDominatedRanks(pts);
  // Whole fronts while they fit; the first front that does not fit is cut by hypervolume.
  const counts = new Map<number, number>();
  for (const r of ranks) counts.set(r, (counts.get(r) ?? 0) + 1);
  let taken = 0;
  let lastFull = -1;
  for (let r = 0; counts.has(r); r++) {
    if (taken + (counts.get(r) as number) > k) break;
    taken += counts.get(r) as number;
    lastFull = r;
  }
  const selected = new Set<number>();
  ranks.forEach((r, i) => {
    if (r <= lastFull) selected.add(i);
  });
  if (selected.size < k) {
    const candidates = ranks.map((r, i) => (r === lastFull + 1 ? i : -1)).filter((i) => i >= 0);
    for (const i of greedyHypervolumeSubset(candidates.map((i) => pts[i]), k - selected.size)) selected.add(candidates[i]);
  }
  const below = trials.filter((_, i) => selected.has(i));
  const above = trials.filter((_, i) => !selected.has(i));
  return [below, above];
}

/**
 * Picks `size` of `points` (minimised, mutually non-dominated) that greedily maximise the
 * dominated hypervolume: each step adds the point with the largest contribution. The reference
 * point sits 10% beyond the worst value in each objective.
 */
export function greedyHypervolumeSubset(points: number[][], size: number): number[] {
  if (size >= points.length) return points.map((_, i) => i);
  const m = points[0].length;
  const ref = new Array<number>(m);
  for (let j = 0; j < m; j++) {
    const worst = Math.max(...points.map((p) => p[j]));
    const r = Math.max(1.1 * worst, 0.9 * worst);
    ref[j] = r === 0 ? 1e-12 : r;
  }
  const chosen: number[] = [];
  const left = new Set(points.map((_, i) => i));
  while (chosen.length < size) {
    let best = -1;
    let bestHv = -Infinity;
    for (const i of left) {
      const hv = hypervolume([...chosen.map((c) => points[c]), points[i]], ref);
      if (hv > bestHv) {
        bestHv = hv;
        best = i;
      }
    }
    if (best < 0) break;
    chosen.push(best);
    left.delete(best);
  }
  return chosen;
}
