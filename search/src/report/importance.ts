import type { ParamValue } from '../study/distributions';

/**
 * Parameter importance as the share of the objective's variance explained by each parameter alone
 * (a first-order, "main effect" variance decomposition — the part of fANOVA that needs no model):
 * numeric parameters are cut into `bins` equal-count bins, categoricals grouped by value; the
 * importance is Var_bins(mean of y in bin) / Var(y), then normalised to sum to 1 over parameters.
 * Interactions are ignored, and with few trials the estimate is noisy; it ranks, it does not prove.
 */
export function mainEffectImportance(rows: { params: Record<string, ParamValue>; value: number }[], bins = 5): Record<string, number> {
  const ys = rows.map((r) => r.value);
  const n = ys.length;
  const out: Record<string, number> = {};
  if (n < 2) return out;
  const mean = ys.reduce((a, b) => a + b, 0) / n;
  const total = ys.reduce((a, y) => a + (y - mean) ** 2, 0) / n;
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.params)))].sort();
  for (const name of names) {
    const present = rows.filter((r) => r.params[name] !== undefined);
    if (present.length < 2 || total === 0) {
      out[name] = 0;
      continue;
    }
    const groups = new Map<string, number[]>();
    const numeric = present.every((r) => typeof r.params[name] === 'number');
    if (numeric) {
      const sorted = [...present].sort((a, b) => (a.params[name] as number) - (b.params[name] as number));
      sorted.forEach((r, i) => {
        const k = String(Math.min(bins - 1, Math.floor((i * bins) / sorted.length)));
        groups.set(k, [...(groups.get(k) ?? []), r.value]);
      });
    } else {
      for (const r of present) {
        const k = JSON.stringify(r.params[name]);
        groups.set(k, [...(groups.get(k) ?? []), r.value]);
      }
    }
    // Variance of the group means around the overall mean, weighted by group size (over all n trials).
    let between = 0;
    for (const g of groups.values()) {
      const gm = g.reduce((a, b) => a + b, 0) / g.length;
      between += g.length * (gm - mean) ** 2;
    }
    out[name] = between / n / total;
  }
  const sum = Object.values(out).reduce((a, b) => a + b, 0);
  if (sum > 0) for (const k of Object.keys(out)) out[k] /= sum;
  return out;
}
