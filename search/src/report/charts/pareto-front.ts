import { paretoFront } from '../../study/pareto';
import { H, W, type Chart, type ReportData } from './figure';

/** The first two objectives of every complete trial, the Pareto front coloured; and the front's members. */
export function paretoFrontChart(r: ReportData): { chart: Chart; members: number[] } {
  const front = new Set(paretoFront(r.complete, r.directions).map((t) => t.number));
  const values = r.complete.map((t) => ({ trial: t.number, a: t.values![0], b: t.values![1], front: front.has(t.number) ? 'Pareto front' : 'dominated' }));
  const chart: Chart = {
    title: 'Pareto front',
    spec: {
      width: W,
      height: H,
      data: { values },
      mark: { type: 'point', filled: true },
      encoding: {
        x: { field: 'a', type: 'quantitative', title: r.names[0], scale: { zero: false } },
        y: { field: 'b', type: 'quantitative', title: r.names[1], scale: { zero: false } },
        color: { field: 'front', type: 'nominal' },
      },
    },
  };
  return { chart, members: [...front] };
}
