import type { TopLevelSpec } from 'vega-lite';
import { nonDominatedRanks } from '../study/pareto';
import type { FrozenTrial } from '../study/trial-types';
import type { PerClass } from './per-class';

export const SHOTS = ['many', 'medium', 'few'] as const;

/** A reported accuracy of a trial by short name (top1, many, medium, few): the eval/* spelling first. */
export function shotMetric(t: FrozenTrial, k: string): number | undefined {
  const m = (t.userAttrs.metrics as Record<string, unknown> | undefined) ?? {};
  const v = m[`eval/${k}`] ?? m[k];
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

const GROUP_COLOURS = { scale: { domain: [...SHOTS], range: ['#1f77b4', '#ff7f0e', '#d62728'] } };

/** Per-class accuracy against the class's training-image count (log x), Many/Medium/Few shaded. */
export function perClassSpec(pc: PerClass, width: number, height: number): TopLevelSpec {
  const points = pc.trainCount
    .map((n, i) => ({ class: pc.name[i], group: pc.group[i], count: n, accuracy: pc.accuracy[i] }))
    .filter((p) => p.count > 0 && p.accuracy !== null);
  const bands = shotBands(pc);
  const means = bands.map((b) => {
    const acc = points.filter((p) => p.group === b.group).map((p) => p.accuracy as number);
    return { ...b, mean: acc.reduce((a, x) => a + x, 0) / Math.max(1, acc.length) };
  });
  const x = {
    field: 'count',
    type: 'quantitative' as const,
    title: 'training images of the class (log scale)',
    scale: { type: 'log' as const },
  };
  return {
    width,
    height,
    layer: [
      {
        data: { values: bands },
        mark: { type: 'rect', opacity: 0.12 },
        encoding: {
          x: { field: 'lo', type: 'quantitative', scale: { type: 'log' } },
          x2: { field: 'hi' },
          color: { field: 'group', type: 'nominal', legend: null, ...GROUP_COLOURS },
        },
      },
      {
        data: { values: bands.map((b) => ({ ...b, mid: Math.sqrt(b.lo * b.hi) })) },
        mark: { type: 'text', baseline: 'top', dy: 4, fontSize: 12 },
        encoding: {
          x: { field: 'mid', type: 'quantitative', scale: { type: 'log' } },
          text: { field: 'group' },
          y: { value: 0 },
        },
      },
      {
        data: { values: means },
        mark: { type: 'rule', strokeDash: [4, 3], strokeWidth: 1.5 },
        encoding: {
          x: { field: 'lo', type: 'quantitative', scale: { type: 'log' } },
          x2: { field: 'hi' },
          y: { field: 'mean', type: 'quantitative' },
          color: { field: 'group', type: 'nominal', legend: null, ...GROUP_COLOURS },
        },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 45 },
        encoding: {
          x,
          y: {
            field: 'accuracy',
            type: 'quantitative',
            title: 'test accuracy of the class',
            scale: { domain: [0, 1] },
          },
          color: { field: 'group', type: 'nominal', title: 'group', ...GROUP_COLOURS },
        },
      },
    ],
  } as TopLevelSpec;
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

export function headTailSpec(pts: HeadTailPoint[], width: number, height: number): TopLevelSpec {
  const values = pts.map((p) => ({ ...p, set: p.front ? 'Pareto front' : 'dominated' }));
  const front = values.filter((p) => p.front).sort((a, b) => a.top1 - b.top1);
  return {
    width,
    height,
    layer: [
      {
        data: { values: front },
        mark: { type: 'line', color: '#d62728', interpolate: 'step-before', opacity: 0.6 },
        encoding: {
          x: { field: 'top1', type: 'quantitative' },
          y: { field: 'few', type: 'quantitative' },
          order: { field: 'top1' },
        },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'top1', type: 'quantitative', title: 'top-1 accuracy', scale: { zero: false } },
          y: { field: 'few', type: 'quantitative', title: 'Few accuracy', scale: { zero: false } },
          color: {
            field: 'set',
            type: 'nominal',
            title: null,
            scale: { domain: ['Pareto front', 'dominated'], range: ['#d62728', '#7f7f7f'] },
          },
        },
      },
      {
        data: { values },
        mark: { type: 'text', dx: 7, align: 'left', fontSize: 10 },
        encoding: {
          x: { field: 'top1', type: 'quantitative' },
          y: { field: 'few', type: 'quantitative' },
          text: { field: 'trial' },
        },
      },
    ],
  } as TopLevelSpec;
}
