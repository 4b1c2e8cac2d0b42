import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { DataFormatError, show } from './errors';

export interface ListEntries {
  paths: string[];
  labels: Int32Array;
}

/**
 * Parses an image list (`relative/path.jpg label` per line, as in iNaturalist18_*.txt and ImageNet_LT_*.txt).
 * Blank lines are ignored; the path may contain spaces (the label is the last field). `numClasses`, when
 * given, bounds the labels.
 */
export async function readImageList(file: string, numClasses?: number): Promise<ListEntries> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DataFormatError(file, '', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  const paths: string[] = [];
  const labels: number[] = [];
  const name = basename(file);
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, k) => {
    const line = raw.trim();
    if (!line) return;
    const m = /^(.+?)\s+(\S+)$/.exec(line);
    if (!m) throw new DataFormatError(name, `line ${k + 1}`, `${show(line)}: expected "relative/path label"`);
    const label = Number(m[2]);
    if (!/^\d+$/.test(m[2]) || !Number.isSafeInteger(label)) {
      throw new DataFormatError(name, `line ${k + 1}`, `label ${show(m[2])}: expected an integer >= 0`);
    }
    if (numClasses !== undefined && label >= numClasses) {
      throw new DataFormatError(name, `line ${k + 1}`, `label ${label}: expected a class in [0, ${numClasses})`);
    }
    paths.push(m[1]);
    labels.push(label);
  });
  if (paths.length === 0) throw new DataFormatError(name, '', 'no entries: expected at least one "relative/path label" line');
  return { paths, labels: Int32Array.from(labels) };
}
