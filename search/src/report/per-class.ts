import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrozenTrial } from '../study/trial-types';

/** The user attribute that carries a trial's per-class table into the study storage. */
export const PER_CLASS_ATTR = 'per_class';
/** The file name the long-tail trainers write (plugins/longtail/src/eval/per-class-csv.ts). */
export const PER_CLASS_FILE = 'per_class_accuracy.csv';

/** Per-class accuracy of one trial, column-wise (compact as JSON); accuracy null for a class without test images. */
export interface PerClass {
  name: string[];
  group: string[];
  trainCount: number[];
  testCount: number[];
  accuracy: (number | null)[];
}

/** RFC 4180 rows (quoted fields, doubled quotes, CRLF or LF). */
function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

/** Parses the trainers' per_class_accuracy.csv (class,name,group,train_count,test_count,accuracy). */
export function parsePerClassCsv(text: string): PerClass {
  const [header, ...rows] = csvRows(text);
  const col = (n: string) => {
    const i = header?.indexOf(n) ?? -1;
    if (i < 0) throw new Error(`per-class table: no column "${n}" (header: ${header?.join(',') ?? 'empty'})`);
    return i;
  };
  const [name, group, train, test, acc] = ['name', 'group', 'train_count', 'test_count', 'accuracy'].map(col);
  const out: PerClass = { name: [], group: [], trainCount: [], testCount: [], accuracy: [] };
  for (const r of rows) {
    out.name.push(r[name]);
    out.group.push(r[group]);
    out.trainCount.push(Number(r[train]));
    out.testCount.push(Number(r[test]));
    out.accuracy.push(r[acc] === '' || r[acc] === undefined ? null : Number(r[acc]));
  }
  return out;
}

/** The per-class table among a trial's artifacts, if the trainer wrote one. */
export function perClassFromArtifacts(artifacts: readonly string[]): PerClass | undefined {
  const f = artifacts.find((a) => path.basename(a) === PER_CLASS_FILE);
  return f && fs.existsSync(f) ? parsePerClassCsv(fs.readFileSync(f, 'utf8')) : undefined;
}

/** A trial's per-class table: from the study storage, else from its work directory (studies run before it was stored). */
export function perClassOf(t: FrozenTrial): PerClass | undefined {
  const a = t.userAttrs[PER_CLASS_ATTR] as PerClass | undefined;
  if (a && Array.isArray(a.trainCount)) return a;
  const dir = t.systemAttrs.work_dir;
  return typeof dir === 'string' ? perClassFromArtifacts([path.join(dir, PER_CLASS_FILE)]) : undefined;
}
