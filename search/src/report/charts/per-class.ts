import type { TopLevelSpec } from 'vega-lite';
import { PER_CLASS_ATTR, PER_CLASS_FILE, perClassOf, type PerClass } from '../per-class';
import type { FrozenTrial } from '../../study/trial-types';
import { shotBands, SHOTS } from '../tail';
import { H, W, type Figure } from './figure';

/** One trial's per-class accuracy (`which` names the trial in the note), or why it has none. */
export function perClassChart(t: FrozenTrial, which: string): Figure {
  const title = 'Per-class accuracy';
  const pc = perClassOf(t);
  if (!pc) return { title, note: `The ${which} left no per-class table (${PER_CLASS_ATTR} attribute or ${PER_CLASS_FILE} in its work directory): its trainer does not write one.` };
  return {
    title,
    spec: perClassSpec(pc, W, H),
    note: `${which}: each class's test accuracy against its number of training images; shaded: the Many/Medium/Few groups, dashed: each group's mean accuracy.`,
  };
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
  };
}
