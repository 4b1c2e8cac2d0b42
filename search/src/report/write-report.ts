/**
 * The study report: `index.html` assembled from sections (one module per chart under charts/, as
 * Optuna's visualization package has one per plot; the other sections in sections.ts) and trials.csv.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { Study } from '../study/study';
import { StudyDirection, TrialState, type FrozenTrial } from '../study/trial-types';
import type { ReportData } from './charts/figure';
import { headTailChart } from './charts/head-tail';
import { intermediateValues } from './charts/intermediate-values';
import { optimizationHistory } from './charts/optimization-history';
import { parallelCoordinates } from './charts/parallel-coordinates';
import { paramImportancesChart } from './charts/param-importances';
import { paretoFrontChart } from './charts/pareto-front';
import { perClassChart } from './charts/per-class';
import { slices } from './charts/slices';
import { heldOutTestSection, heldOutTestTable } from './held-out-test';
import { bestTrialSection, failedTrials, page, renderSection, summary, trialsTable, type Section } from './sections';
import { shotMetric } from './tail';

export interface ReportOptions {
  outDir: string;
  /** Names of the objectives (metric names), for axis titles. */
  objectiveNames?: string[];
}

/** All trials as CSV rows: number, state, values, params, duration, fail reason, user attrs. */
export function trialsCsv(trials: FrozenTrial[], objectiveNames: string[]): string {
  const params = [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
  const attrs = [...new Set(trials.flatMap((t) => Object.keys(t.userAttrs)))].sort();
  const header = [
    'number',
    'state',
    ...objectiveNames.map((n) => `value:${n}`),
    ...params.map((p) => `param:${p}`),
    'datetime_start',
    'datetime_complete',
    'duration_s',
    'fail_reason',
    ...attrs.map((a) => `user_attr:${a}`),
  ];
  const rows = trials.map((t) => [
    t.number,
    TrialState[t.state],
    ...objectiveNames.map((_n, i) => t.values?.[i] ?? ''),
    ...params.map((p) => (t.params[p] === undefined ? '' : String(t.params[p]))),
    t.datetimeStart?.toISOString() ?? '',
    t.datetimeComplete?.toISOString() ?? '',
    t.datetimeStart && t.datetimeComplete
      ? (t.datetimeComplete.getTime() - t.datetimeStart.getTime()) / 1000
      : '',
    String(t.systemAttrs.fail_reason ?? ''),
    ...attrs.map((a) =>
      t.userAttrs[a] === undefined
        ? ''
        : typeof t.userAttrs[a] === 'string'
          ? (t.userAttrs[a] as string)
          : JSON.stringify(t.userAttrs[a]),
    ),
  ]);
  return stringify([header, ...rows]);
}

/** A single-objective study: the best trial and its classes, head and tail, then the search's charts. */
function singleObjective(r: ReportData): Section[] {
  const maximize = r.directions[0] === StudyDirection.MAXIMIZE;
  const best = r.complete.reduce((a, b) => ((maximize ? b.values![0] > a.values![0] : b.values![0] < a.values![0]) ? b : a));
  return [
    bestTrialSection(best, r.names[0]),
    heldOutTestSection(best, `best trial #${best.number}`),
    perClassChart(best, `best trial #${best.number}`),
    headTailChart(r.trials),
    trialsTable(r),
    optimizationHistory(r),
    paramImportancesChart(r),
    parallelCoordinates(r),
    slices(r),
  ];
}

/** A multi-objective study: the Pareto front, the classes of the best top-1 trial, head and tail. */
function multiObjective(r: ReportData): Section[] {
  const { chart, members } = paretoFrontChart(r);
  const byTop1 = r.complete.filter((t) => shotMetric(t, 'top1') !== undefined).sort((a, b) => shotMetric(b, 'top1')! - shotMetric(a, 'top1')!)[0];
  return [
    chart,
    `<p>${members.length} trial(s) on the Pareto front: ${members.map((n) => `#${n}`).join(', ')}</p>`,
    heldOutTestTable(r.complete.filter((t) => members.includes(t.number))),
    byTop1 ? perClassChart(byTop1, `trial #${byTop1.number} (best top-1)`) : null,
    headTailChart(r.trials),
    trialsTable(r),
  ];
}

/**
 * Writes `<outDir>/index.html` (self-contained: SVG plots inline, no script, no network) and
 * `<outDir>/trials.csv`. Returns the HTML path.
 */
export async function writeReport(study: Study, opts: ReportOptions): Promise<string> {
  fs.mkdirSync(opts.outDir, { recursive: true });
  const trials = await study.getTrials();
  const directions = study.directions;
  const names = opts.objectiveNames && opts.objectiveNames.length === directions.length ? opts.objectiveNames : directions.map((_d, i) => `objective ${i}`);
  fs.writeFileSync(path.join(opts.outDir, 'trials.csv'), trialsCsv(trials, names));
  const r: ReportData = { trials, complete: trials.filter((t) => t.state === TrialState.COMPLETE && t.values), names, directions };
  const byObjectives = !r.complete.length ? [trialsTable(r)] : directions.length === 1 ? singleObjective(r) : multiObjective(r);
  const html: string[] = [];
  for (const s of [summary(r), ...byObjectives, intermediateValues(r), failedTrials(r)]) {
    const h = await renderSection(s); // one chart at a time
    if (h !== null) html.push(h);
  }
  const file = path.join(opts.outDir, 'index.html');
  fs.writeFileSync(file, page(study.studyName, html));
  return file;
}
