import { StudyDirection } from '../../study/trial-types';
import { H, W, type Chart, type ReportData } from './figure';

/** Each complete trial's objective against its number, with the best so far as a step line. */
export function optimizationHistory(r: ReportData): Chart {
  const maximize = r.directions[0] === StudyDirection.MAXIMIZE;
  let best: number | null = null;
  const hist = r.complete.map((t) => {
    const v = t.values![0];
    best = best === null ? v : maximize ? Math.max(best, v) : Math.min(best, v);
    return { number: t.number, value: v, best };
  });
  return {
    title: 'Optimisation history',
    spec: {
      width: W,
      height: H,
      data: { values: hist },
      layer: [
        {
          mark: { type: 'point', filled: true },
          encoding: {
            x: { field: 'number', type: 'quantitative', title: 'trial', axis: { tickMinStep: 1, format: 'd' } },
            y: { field: 'value', type: 'quantitative', title: r.names[0], scale: { zero: false } },
          },
        },
        {
          mark: { type: 'line', color: '#d62728', interpolate: 'step-after' },
          encoding: {
            x: { field: 'number', type: 'quantitative' },
            y: { field: 'best', type: 'quantitative' },
          },
        },
      ],
    },
  };
}
