/**
 * Metric names across the move to validation splits. Trainers used to evaluate on the test split during
 * training and report it as eval/*, which the search then selected on. They now report val/* (a split
 * disjoint from train and test) during training and test/* once at the end. A space or study written
 * with eval/X reads val/X, and a trainer that still reports eval/X is read there too.
 */

const LEGACY = 'eval/';
const CURRENT = 'val/';

/** The name a space's metric is read by: eval/X is val/X, the rest unchanged. */
export function currentMetricName(name: string): string {
  return name.startsWith(LEGACY) ? CURRENT + name.slice(LEGACY.length) : name;
}

/** One line when a space names eval/* metrics (null when it does not). */
export function legacyMetricNote(where: string, names: string[]): string | null {
  const old = [...new Set(names.filter((n) => n.startsWith(LEGACY)))];
  if (!old.length) return null;
  return `${where}: ${old.join(', ')} read as ${old.map(currentMetricName).join(', ')}: trainers now select on a validation split (val/*) and report test/* once per trial, which no choice reads`;
}

/** One line when a space selects on test accuracy (test/*, or the trainers' short result names top1, many, medium, few). */
export function testSelectionNote(where: string, names: string[]): string | null {
  const t = [...new Set(names.filter((n) => n.startsWith('test/') || ['top1', 'many', 'medium', 'few'].includes(n)))];
  if (!t.length) return null;
  return `${where}: ${t.join(', ')} ${t.length > 1 ? 'are' : 'is'} test accuracy: this study selects on the test split, and its best trial's test numbers are optimistic; name val/* to select on validation`;
}

/** A reported metric by name; for val/X, a trainer's eval/X when it reports no val/X. */
export function metricValue(metrics: Record<string, number>, name: string): number | undefined {
  if (name in metrics) return metrics[name];
  if (name.startsWith(CURRENT)) return metrics[LEGACY + name.slice(CURRENT.length)];
  return undefined;
}
