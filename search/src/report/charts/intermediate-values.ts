import { TrialState } from '../../study/trial-types';
import { H, W, type Chart, type ReportData } from './figure';

/** Every trial's reported (finite) intermediate values against the step, coloured by state; null without any. */
export function intermediateValues(r: ReportData): Chart | null {
  const values = r.trials.flatMap((t) =>
    [...t.intermediateValues.entries()].filter(([, v]) => Number.isFinite(v)).map(([step, value]) => ({ trial: t.number, step, value, state: TrialState[t.state] })),
  );
  if (!values.length) return null;
  return {
    title: 'Intermediate values',
    spec: {
      width: W,
      height: H,
      data: { values },
      mark: { type: 'line', point: true, opacity: 0.7 },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'value', type: 'quantitative', scale: { zero: false } },
        detail: { field: 'trial' },
        color: { field: 'state', type: 'nominal' },
      },
    },
  };
}
