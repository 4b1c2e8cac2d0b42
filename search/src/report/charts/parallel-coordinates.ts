import { H, W, type Chart, type ReportData } from './figure';

/** Parameters of the complete trials, sorted by name. */
export function paramNames(r: ReportData): string[] {
  return [...new Set(r.complete.flatMap((t) => Object.keys(t.params)))].sort();
}

/** One line per complete trial across its numeric parameters (each scaled to its observed range); null without any. */
export function parallelCoordinates(r: ReportData): Chart | null {
  const { complete } = r;
  const numericParams = paramNames(r).filter((p) => complete.every((t) => t.params[p] === undefined || typeof t.params[p] === 'number'));
  if (!numericParams.length) return null;
  const ranges = Object.fromEntries(
    numericParams.map((p) => {
      const xs = complete.map((t) => t.params[p]).filter((x): x is number => typeof x === 'number');
      return [p, [Math.min(...xs), Math.max(...xs)]];
    }),
  );
  const pc = complete.flatMap((t) =>
    numericParams
      .filter((p) => typeof t.params[p] === 'number')
      .map((p) => ({
        trial: t.number,
        param: p,
        norm: ranges[p][1] > ranges[p][0] ? ((t.params[p] as number) - ranges[p][0]) / (ranges[p][1] - ranges[p][0]) : 0.5,
        value: t.values![0],
      })),
  );
  return {
    title: 'Parallel coordinates',
    note: 'Numeric parameters, each scaled to the range observed; colour: objective.',
    spec: {
      width: W,
      height: H,
      data: { values: pc },
      mark: { type: 'line', opacity: 0.6 },
      encoding: {
        x: { field: 'param', type: 'nominal', sort: numericParams },
        y: { field: 'norm', type: 'quantitative', title: 'position in observed range' },
        detail: { field: 'trial' },
        color: { field: 'value', type: 'quantitative', title: r.names[0] },
      },
    },
  };
}
