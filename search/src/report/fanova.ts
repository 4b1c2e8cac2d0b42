import { Rng } from '../study/rng';

/**
 * fANOVA parameter importance (Hutter, Hoos & Leyton-Brown 2014), the method Optuna uses by default:
 * a random forest of regression trees is fitted to (parameters -> objective); each tree is a piecewise
 * constant function on the search space, so its variance over the space (uniform measure) and the
 * variance of each single parameter's marginal are exact sums over the tree's leaves. A parameter's
 * importance is the share of a tree's variance its main effect explains, averaged over the trees.
 */

/** A parameter's domain after the transform (log for log-scaled, codes for categoricals). */
export interface Domain {
  lo: number;
  hi: number;
}

/** Flat tree: a leaf has feature -1. `x[feature] <= threshold` goes left. */
export interface TreeNode {
  feature: number;
  threshold: number;
  left: number;
  right: number;
  value: number;
}

export interface TreeOptions {
  maxDepth: number;
  minSamplesSplit: number;
  minSamplesLeaf: number;
}

const mean = (ys: number[]) => ys.reduce((a, b) => a + b, 0) / ys.length;

/** Best squared-error split of the rows `idx` over all features (tried in random order); null when none helps. */
function bestSplit(
  X: number[][],
  y: number[],
  idx: number[],
  rng: Rng,
  minLeaf: number,
): { feature: number; threshold: number } | null {
  const d = X[0].length;
  const order = Array.from({ length: d }, (_v, i) => i);
  for (let i = d - 1; i > 0; i--) {
    const j = rng.randInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const n = idx.length;
  let total = 0;
  for (const i of idx) total += y[i];
  let best: { feature: number; threshold: number } | null = null;
  // Maximising sum_left^2/n_left + sum_right^2/n_right is minimising the summed squared error.
  let bestScore = (total * total) / n + 1e-12 * Math.abs((total * total) / n);
  for (const f of order) {
    const s = [...idx].sort((a, b) => X[a][f] - X[b][f]);
    let left = 0;
    for (let k = 0; k < n - 1; k++) {
      left += y[s[k]];
      const nl = k + 1;
      if (nl < minLeaf || n - nl < minLeaf) continue;
      const a = X[s[k]][f];
      const b = X[s[k + 1]][f];
      if (a === b) continue;
      const right = total - left;
      const score = (left * left) / nl + (right * right) / (n - nl);
      if (score > bestScore) {
        bestScore = score;
        best = { feature: f, threshold: (a + b) / 2 };
      }
    }
  }
  return best;
}

/** CART regression tree on the rows `idx` (repeats allowed: a bootstrap sample). */
export function fitTree(X: number[][], y: number[], idx: number[], rng: Rng, o: TreeOptions): TreeNode[] {
  const nodes: TreeNode[] = [];
  const grow = (rows: number[], depth: number): number => {
    const id = nodes.length;
    nodes.push({ feature: -1, threshold: 0, left: -1, right: -1, value: mean(rows.map((i) => y[i])) });
    if (depth >= o.maxDepth || rows.length < o.minSamplesSplit) return id;
    const split = bestSplit(X, y, rows, rng, o.minSamplesLeaf);
    if (!split) return id;
    const l = rows.filter((i) => X[i][split.feature] <= split.threshold);
    const r = rows.filter((i) => X[i][split.feature] > split.threshold);
    nodes[id].feature = split.feature;
    nodes[id].threshold = split.threshold;
    nodes[id].left = grow(l, depth + 1);
    nodes[id].right = grow(r, depth + 1);
    return id;
  };
  grow(idx, 0);
  return nodes;
}

/**
 * A tree's total variance over the (uniform) domain and the variance of each feature's marginal
 * f_j(x_j) = E[tree | x_j], both exact: leaves are boxes, so every integral is a sum of box volumes.
 */
export function treeVariances(nodes: TreeNode[], domains: Domain[]): { total: number; main: number[] } {
  const d = domains.length;
  const width = domains.map((D) => D.hi - D.lo);
  const leaves: { value: number; box: Domain[] }[] = [];
  const walk = (id: number, box: Domain[]) => {
    const n = nodes[id];
    if (n.feature < 0) {
      if (box.every((b) => b.hi > b.lo)) leaves.push({ value: n.value, box });
      return;
    }
    const f = n.feature;
    walk(
      n.left,
      box.map((b, k) => (k === f ? { lo: b.lo, hi: Math.min(b.hi, n.threshold) } : b)),
    );
    walk(
      n.right,
      box.map((b, k) => (k === f ? { lo: Math.max(b.lo, n.threshold), hi: b.hi } : b)),
    );
  };
  walk(
    0,
    domains.map((D) => ({ ...D })),
  );
  // share of each side of the domain a leaf covers, and of the whole space
  const share = leaves.map((l) => l.box.map((b, k) => (b.hi - b.lo) / width[k]));
  const vol = share.map((s) => s.reduce((a, b) => a * b, 1));
  const f0 = leaves.reduce((a, l, i) => a + l.value * vol[i], 0);
  const total = leaves.reduce((a, l, i) => a + vol[i] * (l.value - f0) ** 2, 0);
  const main: number[] = [];
  for (let j = 0; j < d; j++) {
    const cuts = [
      ...new Set([
        domains[j].lo,
        domains[j].hi,
        ...nodes
          .filter((n) => n.feature === j && n.threshold > domains[j].lo && n.threshold < domains[j].hi)
          .map((n) => n.threshold),
      ]),
    ].sort((a, b) => a - b);
    let v = 0;
    for (let c = 0; c + 1 < cuts.length; c++) {
      const m = (cuts[c] + cuts[c + 1]) / 2;
      let fj = 0;
      leaves.forEach((l, i) => {
        if (l.box[j].lo <= m && m <= l.box[j].hi) fj += (l.value * vol[i]) / share[i][j];
      });
      v += ((cuts[c + 1] - cuts[c]) / width[j]) * (fj - f0) ** 2;
    }
    main.push(v);
  }
  return { total, main };
}

export interface FanovaOptions {
  nTrees?: number;
  maxDepth?: number;
  seed?: number;
}

export interface FanovaResult {
  /** Per feature: mean over trees of (main-effect variance / tree variance), normalised to sum to 1. */
  importance: number[];
  /** Sum of the un-normalised shares: how much of the forest's variance main effects explain (0..1). */
  mainEffectShare: number;
}

/**
 * fANOVA over a random forest (bootstrap samples, every feature considered at each split, fully grown
 * trees: Optuna's defaults of 64 trees, depth 64). Rows are points in `domains` (already transformed).
 * Returns null when no tree varies (a constant objective: nothing to attribute).
 */
export function fanova(
  X: number[][],
  y: number[],
  domains: Domain[],
  o: FanovaOptions = {},
): FanovaResult | null {
  if (X.length !== y.length || X.length < 2)
    throw new RangeError(
      `fanova: need at least 2 rows with one value each, got ${X.length} rows and ${y.length} values`,
    );
  if (X.some((r) => r.length !== domains.length))
    throw new RangeError(`fanova: every row must have ${domains.length} features`);
  const rng = new Rng(o.seed ?? 0);
  const n = X.length;
  const shares = new Array<number>(domains.length).fill(0);
  let used = 0;
  for (let t = 0; t < (o.nTrees ?? 64); t++) {
    const sample = Array.from({ length: n }, () => rng.randInt(n));
    const tree = fitTree(X, y, sample, rng, {
      maxDepth: o.maxDepth ?? 64,
      minSamplesSplit: 2,
      minSamplesLeaf: 1,
    });
    const { total, main } = treeVariances(tree, domains);
    if (!(total > 0)) continue;
    used++;
    main.forEach((v, j) => (shares[j] += v / total));
  }
  if (used === 0) return null;
  const mean = shares.map((s) => s / used);
  const sum = mean.reduce((a, b) => a + b, 0);
  return { importance: mean.map((s) => (sum > 0 ? s / sum : 0)), mainEffectShare: sum };
}
