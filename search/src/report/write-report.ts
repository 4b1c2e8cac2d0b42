import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { TopLevelSpec } from 'vega-lite';
import type { Study } from '../study/study';
import { StudyDirection, TrialState, type FrozenTrial } from '../study/trial-types';
import { paretoFront } from '../study/pareto';
import { paramImportances } from './importance';
import { renderSvg } from './plots';
import { esc, sig4 } from './format';
import { PER_CLASS_ATTR, PER_CLASS_FILE, perClassOf } from './per-class';
import { headTailPoints, headTailSpec, perClassSpec, SHOTS, shotMetric } from './tail';

export interface ReportOptions {
  outDir: string;
  /** Names of the objectives (metric names), for axis titles. */
  objectiveNames?: string[];
}

const W = 520;
const H = 260;

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

/** Every trial in one table: state, objective values, top-1 and Many/Medium/Few, duration, parameters. */
function trialsTable(trials: FrozenTrial[], names: string[]): string {
  const params = [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
  const head = ['trial', 'state', ...names, 'top1', ...SHOTS, 'duration (s)', ...params];
  const rows = trials.map((t) => {
    const dur =
      t.datetimeStart && t.datetimeComplete
        ? (t.datetimeComplete.getTime() - t.datetimeStart.getTime()) / 1000
        : undefined;
    const cells = [
      `#${t.number}`,
      TrialState[t.state],
      ...names.map((_n, i) => sig4(t.values?.[i])),
      ...['top1', ...SHOTS].map((k) => sig4(shotMetric(t, k))),
      sig4(dur),
      ...params.map((p) => sig4(t.params[p])),
    ];
    return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  return `<h2>Trials</h2><table class="trials"><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.join('')}</table>`;
}

/**
 * Writes `<outDir>/index.html` (self-contained: SVG plots inline, no script, no network) and
 * `<outDir>/trials.csv`. Returns the HTML path.
 */
export async function writeReport(study: Study, opts: ReportOptions): Promise<string> {
  fs.mkdirSync(opts.outDir, { recursive: true });
  const trials = await study.getTrials();
  const dirs = study.directions;
  const names =
    opts.objectiveNames && opts.objectiveNames.length === dirs.length
      ? opts.objectiveNames
      : dirs.map((_d, i) => `objective ${i}`);
  fs.writeFileSync(path.join(opts.outDir, 'trials.csv'), trialsCsv(trials, names));
  const complete = trials.filter((t) => t.state === TrialState.COMPLETE && t.values);
  const sections: string[] = [];
  const count = (s: TrialState) => trials.filter((t) => t.state === s).length;
  sections.push(
    `<p>${trials.length} trials: ${count(TrialState.COMPLETE)} complete, ${count(TrialState.PRUNED)} pruned, ${count(TrialState.FAIL)} failed, ${count(TrialState.RUNNING)} running, ${count(TrialState.WAITING)} waiting. Objectives: ${names
      .map((n, i) => `${esc(n)} (${StudyDirection[dirs[i]].toLowerCase()})`)
      .join(', ')}. All trials: <a href="trials.csv">trials.csv</a>.</p>`,
  );
  const plot = async (title: string, spec: TopLevelSpec, note = '') => {
    try {
      sections.push(
        `<h2>${esc(title)}</h2>${note ? `<p class="note">${esc(note)}</p>` : ''}<div class="plot">${await renderSvg(spec)}</div>`,
      );
    } catch (e) {
      sections.push(`<h2>${esc(title)}</h2><p>could not render: ${esc((e as Error).message)}</p>`);
    }
  };

  const perClassSection = async (t: FrozenTrial, which: string) => {
    const pc = perClassOf(t);
    if (!pc)
      return sections.push(
        `<h2>Per-class accuracy</h2><p class="note">The ${esc(which)} left no per-class table (${esc(PER_CLASS_ATTR)} attribute or ${esc(PER_CLASS_FILE)} in its work directory): its trainer does not write one.</p>`,
      );
    await plot(
      'Per-class accuracy',
      perClassSpec(pc, W, H),
      `${which}: each class's test accuracy against its number of training images; shaded: the Many/Medium/Few groups, dashed: each group's mean accuracy.`,
    );
  };
  const tailSections = async () => {
    const ht = headTailPoints(trials);
    if (ht.length) {
      const onFront = ht.filter((p) => p.front).map((p) => `#${p.trial}`);
      await plot(
        'Head and tail: top-1 against Few',
        headTailSpec(ht, W, H),
        `Every trial that reported both (${ht.length}); red: the Pareto front of the two (${onFront.join(', ')}), where more top-1 costs Few accuracy.`,
      );
    } else
      sections.push(
        '<h2>Head and tail: top-1 against Few</h2><p class="note">No trial reported both top-1 and Few accuracy.</p>',
      );
    sections.push(trialsTable(trials, names));
  };

  if (dirs.length === 1 && complete.length) {
    const maximize = dirs[0] === StudyDirection.MAXIMIZE;
    let best: number | null = null;
    const hist = complete.map((t) => {
      const v = t.values![0];
      best = best === null ? v : maximize ? Math.max(best, v) : Math.min(best, v);
      return { number: t.number, value: v, best };
    });
    const bestTrial = complete.reduce((a, b) =>
      (maximize ? b.values![0] > a.values![0] : b.values![0] < a.values![0]) ? b : a,
    );
    const shots = ['top1', ...SHOTS]
      .map((k) => [k, shotMetric(bestTrial, k)] as const)
      .filter(([, v]) => v !== undefined);
    sections.push(
      `<h2>Best trial</h2><p>#${bestTrial.number}: ${esc(names[0])} = ${sig4(bestTrial.values![0])}</p><table><tr><th>parameter</th><th>value</th></tr>${Object.entries(
        bestTrial.params,
      )
        .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(sig4(v))}</td></tr>`)
        .join('')}</table>` +
        (shots.length
          ? `<h3>Many / Medium / Few</h3><table><tr>${shots.map(([k]) => `<th>${esc(k)}</th>`).join('')}</tr><tr>${shots.map(([, v]) => `<td>${sig4(v)}</td>`).join('')}</tr></table>`
          : '<p class="note">The best trial reported no Many/Medium/Few metrics.</p>'),
    );
    await perClassSection(bestTrial, `best trial #${bestTrial.number}`);
    await tailSections();
    await plot('Optimisation history', {
      width: W,
      height: H,
      data: { values: hist },
      layer: [
        {
          mark: { type: 'point', filled: true },
          encoding: {
            x: {
              field: 'number',
              type: 'quantitative',
              title: 'trial',
              axis: { tickMinStep: 1, format: 'd' },
            },
            y: { field: 'value', type: 'quantitative', title: names[0], scale: { zero: false } },
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
    });
    const imp = paramImportances(trials);
    if (imp.ok) {
      await plot(
        'Parameter importances',
        {
          width: W,
          height: { step: 18 },
          data: {
            values: Object.entries(imp.importance).map(([param, importance]) => ({ param, importance })),
          },
          mark: 'bar',
          encoding: {
            y: { field: 'param', type: 'nominal', sort: '-x' },
            x: { field: 'importance', type: 'quantitative', axis: { format: '.2f' } },
          },
        },
        `fANOVA over a random forest (64 trees) fitted to ${imp.trials} complete trials: each parameter's share of the objective's variance explained by that parameter alone, normalised to 1; main effects explain ${sig4(100 * imp.mainEffectShare)}% of the model's variance, the rest is interactions.`,
      );
    } else sections.push(`<h2>Parameter importances</h2><p class="note">${esc(imp.reason)}</p>`);
    const params = [...new Set(complete.flatMap((t) => Object.keys(t.params)))].sort();
    const numericParams = params.filter((p) =>
      complete.every((t) => t.params[p] === undefined || typeof t.params[p] === 'number'),
    );
    if (numericParams.length) {
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
            norm:
              ranges[p][1] > ranges[p][0]
                ? ((t.params[p] as number) - ranges[p][0]) / (ranges[p][1] - ranges[p][0])
                : 0.5,
            value: t.values![0],
          })),
      );
      await plot(
        'Parallel coordinates',
        {
          width: W,
          height: H,
          data: { values: pc },
          mark: { type: 'line', opacity: 0.6 },
          encoding: {
            x: { field: 'param', type: 'nominal', sort: numericParams },
            y: { field: 'norm', type: 'quantitative', title: 'position in observed range' },
            detail: { field: 'trial' },
            color: { field: 'value', type: 'quantitative', title: names[0] },
          },
        },
        'Numeric parameters, each scaled to the range observed; colour: objective.',
      );
    }
    const slices = complete.flatMap((t) =>
      params
        .filter((p) => t.params[p] !== undefined)
        .map((p) => ({ param: p, x: t.params[p], value: t.values![0], trial: t.number })),
    );
    await plot('Slices', {
      data: { values: slices },
      facet: { field: 'param', type: 'nominal', title: null },
      columns: 3,
      spec: {
        width: 160,
        height: 120,
        mark: { type: 'point', filled: true },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: null, scale: { zero: false } },
          y: { field: 'value', type: 'quantitative', title: names[0], scale: { zero: false } },
          color: { field: 'trial', type: 'quantitative' },
        },
      },
      resolve: { scale: { x: 'independent' } },
    });
  }
  if (dirs.length > 1 && complete.length) {
    const front = new Set(paretoFront(complete, dirs).map((t) => t.number));
    await plot('Pareto front', {
      width: W,
      height: H,
      data: {
        values: complete.map((t) => ({
          trial: t.number,
          a: t.values![0],
          b: t.values![1],
          front: front.has(t.number) ? 'Pareto front' : 'dominated',
        })),
      },
      mark: { type: 'point', filled: true },
      encoding: {
        x: { field: 'a', type: 'quantitative', title: names[0], scale: { zero: false } },
        y: { field: 'b', type: 'quantitative', title: names[1], scale: { zero: false } },
        color: { field: 'front', type: 'nominal' },
      },
    });
    sections.push(
      `<p>${front.size} trial(s) on the Pareto front: ${[...front].map((n) => `#${n}`).join(', ')}</p>`,
    );
    const byTop1 = complete
      .filter((t) => shotMetric(t, 'top1') !== undefined)
      .sort((a, b) => shotMetric(b, 'top1')! - shotMetric(a, 'top1')!)[0];
    if (byTop1) await perClassSection(byTop1, `trial #${byTop1.number} (best top-1)`);
    await tailSections();
  }
  if (!complete.length) sections.push(trialsTable(trials, names));
  const iv = trials.flatMap((t) =>
    [...t.intermediateValues.entries()]
      .filter(([, v]) => Number.isFinite(v))
      .map(([step, value]) => ({ trial: t.number, step, value, state: TrialState[t.state] })),
  );
  if (iv.length) {
    await plot('Intermediate values', {
      width: W,
      height: H,
      data: { values: iv },
      mark: { type: 'line', point: true, opacity: 0.7 },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'value', type: 'quantitative', scale: { zero: false } },
        detail: { field: 'trial' },
        color: { field: 'state', type: 'nominal' },
      },
    });
  }
  const failed = trials.filter((t) => t.state === TrialState.FAIL);
  if (failed.length) {
    sections.push(
      `<h2>Failed trials</h2><table><tr><th>trial</th><th>reason</th></tr>${failed.map((t) => `<tr><td>#${t.number}</td><td>${esc(String(t.systemAttrs.fail_reason ?? 'unknown'))}</td></tr>`).join('')}</table>`,
    );
  }
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Study ${esc(study.studyName)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}table.trials{font-size:85%}table.trials td{font-variant-numeric:tabular-nums}.note{color:#666;font-size:90%}.plot svg{max-width:100%;height:auto}</style>
</head><body><h1>Study ${esc(study.studyName)}</h1><p class="note">Written ${new Date().toISOString()}; works offline (plots are inline SVG).</p>
${sections.join('\n')}
</body></html>
`;
  const file = path.join(opts.outDir, 'index.html');
  fs.writeFileSync(file, html);
  return file;
}
