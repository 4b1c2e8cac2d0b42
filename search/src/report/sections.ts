/**
 * The report's sections that are not charts (summary, best trial, trials table, failed trials),
 * how any section becomes HTML, and the page around them.
 */
import { StudyDirection, TrialState, type FrozenTrial } from '../study/trial-types';
import type { Figure, ReportData } from './charts/figure';
import { esc, sig4 } from './format';
import { renderSvg } from './plots';
import { SHOTS, shotMetric } from './tail';

/** Raw HTML, a chart (or why there is none), or nothing. */
export type Section = string | Figure | null;

export async function renderSection(s: Section): Promise<string | null> {
  if (s === null || typeof s === 'string') return s;
  const head = `<h2>${esc(s.title)}</h2>`;
  if (!s.spec) return `${head}<p class="note">${esc(s.note)}</p>`;
  try {
    return `${head}${s.note ? `<p class="note">${esc(s.note)}</p>` : ''}<div class="plot">${await renderSvg(s.spec)}</div>`;
  } catch (e) {
    return `${head}<p>could not render: ${esc((e as Error).message)}</p>`;
  }
}

/** Trial counts by state, the objectives and their directions, and the CSV link. */
export function summary(r: ReportData): string {
  const count = (s: TrialState) => r.trials.filter((t) => t.state === s).length;
  const objectives = r.names.map((n, i) => `${esc(n)} (${StudyDirection[r.directions[i]].toLowerCase()})`).join(', ');
  return `<p>${r.trials.length} trials: ${count(TrialState.COMPLETE)} complete, ${count(TrialState.PRUNED)} pruned, ${count(TrialState.FAIL)} failed, ${count(TrialState.RUNNING)} running, ${count(TrialState.WAITING)} waiting. Objectives: ${objectives}. All trials: <a href="trials.csv">trials.csv</a>.</p>`;
}

/** The best trial of a single-objective study: its value, parameters and Many/Medium/Few. */
export function bestTrialSection(best: FrozenTrial, name: string): string {
  const params = Object.entries(best.params)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(sig4(v))}</td></tr>`)
    .join('');
  const shots = ['top1', ...SHOTS].map((k) => [k, shotMetric(best, k)] as const).filter(([, v]) => v !== undefined);
  const shotTable = shots.length
    ? `<h3>Many / Medium / Few</h3><table><tr>${shots.map(([k]) => `<th>${esc(k)}</th>`).join('')}</tr><tr>${shots.map(([, v]) => `<td>${sig4(v)}</td>`).join('')}</tr></table>`
    : '<p class="note">The best trial reported no Many/Medium/Few metrics.</p>';
  return `<h2>Best trial</h2><p>#${best.number}: ${esc(name)} = ${sig4(best.values![0])}</p><table><tr><th>parameter</th><th>value</th></tr>${params}</table>` + shotTable;
}

/** Every trial in one table: state, objective values, top-1 and Many/Medium/Few, duration, parameters. */
export function trialsTable(r: ReportData): string {
  const params = [...new Set(r.trials.flatMap((t) => Object.keys(t.params)))].sort();
  const head = ['trial', 'state', ...r.names, 'top1', ...SHOTS, 'duration (s)', ...params];
  const rows = r.trials.map((t) => {
    const dur = t.datetimeStart && t.datetimeComplete ? (t.datetimeComplete.getTime() - t.datetimeStart.getTime()) / 1000 : undefined;
    const cells = [
      `#${t.number}`,
      TrialState[t.state],
      ...r.names.map((_n, i) => sig4(t.values?.[i])),
      ...['top1', ...SHOTS].map((k) => sig4(shotMetric(t, k))),
      sig4(dur),
      ...params.map((p) => sig4(t.params[p])),
    ];
    return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  return `<h2>Trials</h2><table class="trials"><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.join('')}</table>`;
}

/** Failed trials and their reasons; null when none failed. */
export function failedTrials(r: ReportData): string | null {
  const failed = r.trials.filter((t) => t.state === TrialState.FAIL);
  if (!failed.length) return null;
  const rows = failed.map((t) => `<tr><td>#${t.number}</td><td>${esc(String(t.systemAttrs.fail_reason ?? 'unknown'))}</td></tr>`).join('');
  return `<h2>Failed trials</h2><table><tr><th>trial</th><th>reason</th></tr>${rows}</table>`;
}

/** The self-contained page (inline SVG, no script). */
export function page(studyName: string, sections: string[]): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Study ${esc(studyName)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}table.trials{font-size:85%}table.trials td{font-variant-numeric:tabular-nums}.note{color:#666;font-size:90%}.plot svg{max-width:100%;height:auto}</style>
</head><body><h1>Study ${esc(studyName)}</h1><p class="note">Written ${new Date().toISOString()}; works offline (plots are inline SVG).</p>
${sections.join('\n')}
</body></html>
`;
}
