import { nonDominatedRanks } from '../study/pareto';
import type { FrozenTrial } from '../study/trial-types';
import type { PerClass } from './per-class';

export const SHOTS = ['many', 'medium', 'few'] as const;

/**
 * A reported accuracy of a trial by short name (top1, many, medium, few), as the search chose by it:
 * val/* (validation), else eval/* (studies from before validation splits), else the short name.
 */
export function shotMetric(t: FrozenTrial, k: string): number | undefined {
  const m = (t.userAttrs.metrics as Record<string, unknown> | undefined) ?? {};
  const v = m[`val/${k}`] ?? m[`eval/${k}`] ?? m[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Many/Medium/Few bands on the training-count axis: each group's classes span [min, max] count; the
 * edge between two neighbouring groups is the geometric mean of the facing counts (the axis is log).
 */
export function shotBands(pc: PerClass): { group: string; lo: number; hi: number }[] {
  const spans = SHOTS.flatMap((g) => {
    const c = pc.trainCount.filter((n, i) => pc.group[i] === g && n > 0);
    return c.length ? [{ group: g as string, min: Math.min(...c), max: Math.max(...c) }] : [];
  });
  // many has the largest counts: walk from few (left) to many (right)
  spans.reverse();
  return spans.map((s, i) => ({
    group: s.group,
    lo: i === 0 ? s.min / 1.25 : Math.sqrt(spans[i - 1].max * s.min),
    hi: i === spans.length - 1 ? s.max * 1.25 : Math.sqrt(s.max * spans[i + 1].min),
  }));
}

export interface HeadTailPoint {
  trial: number;
  top1: number;
  few: number;
  front: boolean;
}

/** Top-1 and Few accuracy of every trial that reported both, with the (maximise both) Pareto front marked. */
export function headTailPoints(trials: FrozenTrial[]): HeadTailPoint[] {
  const pts = trials.flatMap((t) => {
    const top1 = shotMetric(t, 'top1');
    const few = shotMetric(t, 'few');
    return top1 === undefined || few === undefined ? [] : [{ trial: t.number, top1, few }];
  });
  const ranks = nonDominatedRanks(pts.map((p) => [-p.top1, -p.few]));
  return pts.map((p, i) => ({ ...p, front: ranks[i] === 0 }));
}
