import type { Chart, ReportData } from './figure';
import { paramNames } from './parallel-coordinates';

/** The objective against each parameter, one small scatter per parameter. */
export function slices(r: ReportData): Chart {
  const params = paramNames(r);
  const values = r.complete.flatMap((t) =>
    params.filter((p) => t.params[p] !== undefined).map((p) => ({ param: p, x: t.params[p], value: t.values![0], trial: t.number })),
  );
  return {
    title: 'Slices',
    spec: {
      data: { values },
      facet: { field: 'param', type: 'nominal', title: null },
      columns: 3,
      spec: {
        width: 160,
        height: 120,
        mark: { type: 'point', filled: true },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: null, scale: { zero: false } },
          y: { field: 'value', type: 'quantitative', title: r.names[0], scale: { zero: false } },
          color: { field: 'trial', type: 'quantitative' },
        },
      },
      resolve: { scale: { x: 'independent' } },
    },
  };
}
