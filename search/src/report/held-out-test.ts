/**
 * The selected trial's test accuracy, shown apart from everything that chose it. Long-tail trainers
 * evaluate on a validation split during training (val/*: the objective, the pruner, the best trial and
 * the Pareto front read it) and on the test split once, after their last stage (test/*), which nothing
 * in a study reads to choose. Studies from before validation splits reported eval/*: test accuracy that
 * also chose the best trial, so they have no untouched test numbers.
 */
import type { FrozenTrial } from '../study/trial-types';
import { esc, sig4 } from './format';

export const TEST_KEYS = ['top1', 'many', 'medium', 'few'] as const;

export const UNTOUCHED_NOTE =
  'Test accuracy of the selected trial, untouched by the selection: every trial read its test split once, after its last stage; the objective, pruning, the best trial and the Pareto front read only validation (val/*).';

function metricsOf(t: FrozenTrial): Record<string, unknown> {
  return (t.userAttrs.metrics as Record<string, unknown> | undefined) ?? {};
}

/** The trial's test/* accuracies (finite ones), by short name. */
export function testMetrics(t: FrozenTrial): Record<string, number> {
  const m = metricsOf(t);
  const out: Record<string, number> = {};
  for (const k of TEST_KEYS) {
    const v = m[`test/${k}`];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return out;
}

/** A trial of a study from before validation splits: eval/* (test, and selected on) and no val/*. */
export function isLegacyEvalTrial(t: FrozenTrial): boolean {
  const m = metricsOf(t);
  return Object.keys(m).some((k) => k.startsWith('eval/')) && !Object.keys(m).some((k) => k.startsWith('val/'));
}

/** The report's section for the selected trial (`which` names it, e.g. "best trial #3"). */
export function heldOutTestSection(t: FrozenTrial, which: string): string {
  const h = '<h2>Test accuracy of the selected trial (untouched by the selection)</h2>';
  if (isLegacyEvalTrial(t)) {
    return `${h}<p class="note">This study predates validation splits: its trials reported eval/*, test accuracy computed during training, which also chose the ${esc(which)}; it has no untouched test numbers.</p>`;
  }
  const m = testMetrics(t);
  const keys = TEST_KEYS.filter((k) => k in m);
  if (!keys.length) return `${h}<p class="note">The ${esc(which)} reported no test/* metrics.</p>`;
  return `${h}<p class="note">${esc(which)}. ${esc(UNTOUCHED_NOTE)}</p><table><tr>${keys.map((k) => `<th>test/${k}</th>`).join('')}</tr><tr>${keys.map((k) => `<td>${sig4(m[k])}</td>`).join('')}</tr></table>`;
}

/** A multi-objective study's selection is its Pareto front: each member's test accuracy, in one table. */
export function heldOutTestTable(front: FrozenTrial[]): string {
  const h = '<h2>Test accuracy of the Pareto front (untouched by the selection)</h2>';
  if (front.some(isLegacyEvalTrial)) return `${h}<p class="note">This study predates validation splits: its trials reported eval/*, test accuracy computed during training, which also chose the front; it has no untouched test numbers.</p>`;
  const rows = front.map((t) => [t, testMetrics(t)] as const).filter(([, m]) => Object.keys(m).length);
  if (!rows.length) return `${h}<p class="note">No trial of the front reported test/* metrics.</p>`;
  const cells = (m: Record<string, number>) => TEST_KEYS.map((k) => `<td>${sig4(m[k])}</td>`).join('');
  return `${h}<p class="note">${esc(UNTOUCHED_NOTE)}</p><table><tr><th>trial</th>${TEST_KEYS.map((k) => `<th>test/${k}</th>`).join('')}</tr>${rows.map(([t, m]) => `<tr><td>#${t.number}</td>${cells(m)}</tr>`).join('')}</table>`;
}

/** The study run's tags for the selected trial's test accuracy (selected_test.*), with the note. */
export function heldOutTestTags(t: FrozenTrial): Record<string, string> {
  if (isLegacyEvalTrial(t)) return { 'selected_test.note': 'none: this study predates validation splits (its eval/* was test accuracy and chose the best trial)' };
  const m = testMetrics(t);
  const tags: Record<string, string> = Object.fromEntries(Object.entries(m).map(([k, v]) => [`selected_test.${k}`, String(v)]));
  if (Object.keys(m).length) tags['selected_test.note'] = UNTOUCHED_NOTE;
  return tags;
}
