import { writeFile } from 'node:fs/promises';
import type { ShotAccuracy } from './shot-accuracy';

/**
 * The per-class table as CSV text: class, name, group, train_count, test_count, accuracy (empty when the
 * class has no test images).
 */
export function perClassCsv(acc: ShotAccuracy, trainCounts: number[], classNames?: string[]): string {
  const groupOf = new Array<string>(trainCounts.length).fill('');
  for (const g of ['many', 'medium', 'few'] as const) for (const c of acc.groups[g]) groupOf[c] = g;
  const rows: Array<Array<string | number>> = [['class', 'name', 'group', 'train_count', 'test_count', 'accuracy']];
  trainCounts.forEach((n, c) => {
    const a = acc.perClass[c];
    rows.push([c, classNames?.[c] ?? String(c), groupOf[c], n, acc.testCounts[c], Number.isNaN(a) ? '' : a]);
  });
  return rows.map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/** RFC 4180 quoting: fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function writePerClassCsv(path: string, acc: ShotAccuracy, trainCounts: number[], classNames?: string[]): Promise<void> {
  await writeFile(path, perClassCsv(acc, trainCounts, classNames));
}
