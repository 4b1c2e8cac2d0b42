import type { MethodsProtocol } from './protocol';
import type { StageResult, UnitResult } from './result';
import { mean, pairedDifference, sd, type PairedDifference } from './stats';

export const METRICS = ['top1', 'many', 'medium', 'few'] as const;
export type Metric = (typeof METRICS)[number];

/** One method's results by seed (a stage-1-only method is read from its two-stage unit). */
export interface MethodRows {
  id: string;
  label: string;
  ablation: boolean;
  bySeed: Map<number, StageResult>;
  wallSeconds: number[];
}

/** Collects the results of a protocol by method id (CE rows from the stage 1 of the unit that carries them). */
export function byMethod(p: MethodsProtocol, results: UnitResult[]): MethodRows[] {
  const rows = new Map<string, MethodRows>();
  const add = (id: string, label: string, ablation: boolean, seed: number, r: StageResult, wall: number | null) => {
    if (!rows.has(id)) rows.set(id, { id, label, ablation, bySeed: new Map(), wallSeconds: [] });
    const row = rows.get(id)!;
    row.bySeed.set(seed, r);
    if (wall !== null) row.wallSeconds.push(wall);
  };
  // Declared order: main methods (CE first where a unit carries it), then the ablation.
  for (const m of p.methods) {
    if (m.stage1As) rows.set(m.stage1As.id, { id: m.stage1As.id, label: m.stage1As.label, ablation: false, bySeed: new Map(), wallSeconds: [] });
    rows.set(m.id, { id: m.id, label: m.label, ablation: false, bySeed: new Map(), wallSeconds: [] });
  }
  for (const m of p.ablation.methods) rows.set(m.id, { id: m.id, label: m.label, ablation: true, bySeed: new Map(), wallSeconds: [] });
  for (const r of results) {
    if (r.protocol !== p.name) continue;
    add(r.method.id, r.method.label, r.ablation, r.seed, r.final, r.wallSeconds);
    if (r.stage1?.as) add(r.stage1.as.id, r.stage1.as.label, r.ablation, r.seed, r.stage1, null);
  }
  return [...rows.values()];
}

export interface Cell {
  n: number;
  mean: number;
  sd: number;
}

export function cell(row: MethodRows, metric: Metric): Cell {
  const v = [...row.bySeed.values()].map((s) => s[metric]).filter(Number.isFinite);
  return v.length === 0 ? { n: 0, mean: NaN, sd: NaN } : { n: v.length, mean: mean(v), sd: sd(v) };
}

/** a - b per seed present in both (seed order), for one metric. */
export function paired(a: MethodRows, b: MethodRows, metric: Metric): PairedDifference & { seeds: number[] } {
  const seeds = [...a.bySeed.keys()].filter((s) => b.bySeed.has(s)).sort((x, y) => x - y);
  if (seeds.length === 0) return { diffs: [], mean: NaN, sd: NaN, n: 0, lo: NaN, hi: NaN, seeds };
  const d = pairedDifference(
    seeds.map((s) => a.bySeed.get(s)![metric]),
    seeds.map((s) => b.bySeed.get(s)![metric]),
  );
  return { ...d, seeds };
}

const pct = (v: number, digits = 1) => (Number.isFinite(v) ? (100 * v).toFixed(digits) : 'n/a');

export function formatCell(c: Cell): string {
  if (c.n === 0) return '-';
  return c.n === 1 ? `${pct(c.mean)} (1 seed)` : `${pct(c.mean)} ± ${pct(c.sd)}`;
}

export function formatDiff(d: PairedDifference): string {
  if (d.n === 0) return '-';
  const per = d.diffs.map((x) => (x >= 0 ? '+' : '') + pct(x)).join(', ');
  if (d.n < 2) return `${pct(d.mean)} (1 seed: no interval)`;
  return `${d.mean >= 0 ? '+' : ''}${pct(d.mean)} [${pct(d.lo)}, ${pct(d.hi)}] (seeds: ${per})`;
}

/** Where a 95% interval lies: the words the verdict sentence is built from. */
export function verdict(d: PairedDifference): 'ahead' | 'behind' | 'no difference shown' | 'not enough seeds' {
  if (d.n < 2 || !Number.isFinite(d.lo)) return 'not enough seeds';
  if (d.lo > 0) return 'ahead';
  if (d.hi < 0) return 'behind';
  return 'no difference shown';
}

/** How far the best method's mean top-1 is above chance (1 / K): a clause when it is less than 2x chance. */
function nearChance(rows: MethodRows[], chance: number): string {
  const best = Math.max(...rows.map((r) => cell(r, 'top1').mean).filter(Number.isFinite));
  if (!Number.isFinite(best) || best >= 2 * chance) return '';
  return ` Every method is below twice chance (best mean top-1 ${pct(best)}% against ${pct(chance)}% for ${Math.round(1 / chance)} classes): at this schedule the networks have barely begun to learn, so the comparison is between nearly untrained models.`;
}

/**
 * The one plain sentence on what the evidence shows and does not show, from the numbers (plus a
 * clause when every method is near chance, `chance` = 1 / K, given with all `rows`).
 */
export function sentence(p: MethodsProtocol, a: MethodRows, b: MethodRows, all: MethodRows[] = [], chance = 0): string {
  const caveat = chance > 0 ? nearChance(all, chance) : '';
  const top = paired(a, b, 'top1');
  const few = paired(a, b, 'few');
  if (top.n < 2) {
    return `With ${top.n} paired seed(s) of ${a.label} and ${b.label} under ${p.name}, there is no interval yet: the evidence shows nothing either way.${caveat}`;
  }
  const say = (d: PairedDifference, what: string) => {
    const v = verdict(d);
    const num = `${d.mean >= 0 ? '+' : ''}${pct(d.mean)} points, 95% CI [${pct(d.lo)}, ${pct(d.hi)}]`;
    if (v === 'ahead') return `ahead on ${what} (${num}, above zero)`;
    if (v === 'behind') return `behind on ${what} (${num}, below zero)`;
    return `not distinguishable on ${what} (${num}, includes zero)`;
  };
  return (
    `Over ${top.n} paired seeds of this reduced protocol (${p.name}), ${a.label} is ${say(top, 'top-1')} and ${say(few, 'Few-class accuracy')} ` +
    `relative to ${b.label}; this is a short CPU schedule, so it says nothing about the field's full-length protocol, where the method is meant to be judged.` +
    caveat
  );
}
