import type { TopLevelSpec } from 'vega-lite';
import type { FrozenTrial } from '../../study/trial-types';
import { headTailPoints, type HeadTailPoint } from '../tail';
import { H, W, type Figure } from './figure';

/** Top-1 against Few accuracy of every trial that reported both, the front of the two marked. */
export function headTailChart(trials: FrozenTrial[]): Figure {
  const title = 'Head and tail: top-1 against Few';
  const ht = headTailPoints(trials);
  if (!ht.length) return { title, note: 'No trial reported both top-1 and Few accuracy.' };
  const onFront = ht.filter((p) => p.front).map((p) => `#${p.trial}`);
  return {
    title,
    spec: headTailSpec(ht, W, H),
    note: `Every trial that reported both (${ht.length}); red: the Pareto front of the two (${onFront.join(', ')}), where more top-1 costs Few accuracy.`,
  };
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
  };
}
