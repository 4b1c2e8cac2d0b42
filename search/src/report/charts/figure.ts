import type { TopLevelSpec } from 'vega-lite';
import type { FrozenTrial, StudyDirection } from '../../study/trial-types';

/** A section with a chart: its title, its Vega-Lite spec, and a note under the title. */
export interface Chart {
  title: string;
  spec: TopLevelSpec;
  note?: string;
}
/** A section that says why a chart is not drawn. */
export interface NoChart {
  title: string;
  spec?: undefined;
  note: string;
}
export type Figure = Chart | NoChart;

/** What every plot of a report is drawn from. */
export interface ReportData {
  trials: FrozenTrial[];
  /** COMPLETE trials with values, in trial order. */
  complete: FrozenTrial[];
  /** One name per objective (axis titles). */
  names: string[];
  directions: readonly StudyDirection[];
}

/** Width and height of a single chart. */
export const W = 520;
export const H = 260;
