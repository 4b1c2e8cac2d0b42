import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from '@iccl/trainer-api';
import { DataFormatError, show } from './errors';
import { readImageList } from './list-file';

/** A split's entries: paths relative to the data root, labels in [0, K). */
export interface IndexedSplit {
  paths: string[];
  labels: number[];
}

/** What the iNaturalist annotation files boil down to; this is what the prepared cache stores. */
export interface Inat18Index {
  version: 1;
  classNames: string[];
  /** the original category id of each label */
  categoryIds: number[];
  train: IndexedSplit;
  val: IndexedSplit;
  /** classes without training images (reported as a warning) */
  emptyClasses: number[];
}

type Json = Record<string, unknown>;

function arrayField(doc: Json, key: string, file: string): Json[] {
  const v = doc[key];
  if (!Array.isArray(v)) throw new DataFormatError(file, `key "${key}"`, `${v === undefined ? 'missing' : show(v)}: expected an array`);
  return v as Json[];
}

function intField(o: Json, key: string, file: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new DataFormatError(file, `${where}.${key}`, `${show(v)}: expected an integer`);
  return v;
}

async function readJson(path: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DataFormatError(path, '', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('top level is not an object');
    return doc as Json;
  } catch (e) {
    throw new DataFormatError(basename(path), '', `${(e as Error).message}: expected a COCO-style JSON object`);
  }
}

/** Categories of a COCO-style file, sorted by id; label = position. */
function readCategories(doc: Json, file: string): { ids: number[]; names: string[] } {
  const cats = arrayField(doc, 'categories', file);
  if (cats.length === 0) throw new DataFormatError(file, 'key "categories"', 'empty: expected at least one category');
  const list = cats.map((c, i) => {
    if (!c || typeof c !== 'object') throw new DataFormatError(file, `categories[${i}]`, `${show(c)}: expected an object`);
    const id = intField(c, 'id', file, `categories[${i}]`);
    const name = typeof c.name === 'string' ? c.name : String(id);
    return { id, name };
  });
  list.sort((a, b) => a.id - b.id);
  for (let i = 1; i < list.length; i++) {
    if (list[i].id === list[i - 1].id) throw new DataFormatError(file, 'categories', `id ${list[i].id} appears twice: expected unique ids`);
  }
  return { ids: list.map((c) => c.id), names: list.map((c) => c.name) };
}

/** One COCO-style split: every image must have exactly one annotation with a known category. */
function readCocoSplit(doc: Json, file: string, labelOf: Map<number, number>): IndexedSplit {
  const images = arrayField(doc, 'images', file);
  const anns = arrayField(doc, 'annotations', file);
  const pathOf = new Map<number, string>();
  images.forEach((im, i) => {
    if (!im || typeof im !== 'object') throw new DataFormatError(file, `images[${i}]`, `${show(im)}: expected an object`);
    const id = intField(im, 'id', file, `images[${i}]`);
    const fn = im.file_name;
    if (typeof fn !== 'string' || !fn) throw new DataFormatError(file, `images[${i}].file_name`, `${show(fn)}: expected a relative path`);
    if (pathOf.has(id)) throw new DataFormatError(file, `images[${i}].id`, `${id} appears twice: expected unique image ids`);
    pathOf.set(id, fn);
  });
  const labelByImage = new Map<number, number>();
  anns.forEach((a, i) => {
    if (!a || typeof a !== 'object') throw new DataFormatError(file, `annotations[${i}]`, `${show(a)}: expected an object`);
    const imageId = intField(a, 'image_id', file, `annotations[${i}]`);
    const cat = intField(a, 'category_id', file, `annotations[${i}]`);
    if (!pathOf.has(imageId)) throw new DataFormatError(file, `annotations[${i}].image_id`, `${imageId}: expected the id of an entry in images`);
    const label = labelOf.get(cat);
    if (label === undefined) throw new DataFormatError(file, `annotations[${i}].category_id`, `${cat}: expected an id listed in categories`);
    if (labelByImage.has(imageId)) throw new DataFormatError(file, `annotations[${i}].image_id`, `${imageId} is annotated twice: expected one label per image`);
    labelByImage.set(imageId, label);
  });
  const paths: string[] = [];
  const labels: number[] = [];
  for (const [id, p] of pathOf) {
    const y = labelByImage.get(id);
    if (y === undefined) throw new DataFormatError(file, `image id ${id} (${p})`, 'has no annotation: expected one annotation per image');
    paths.push(p);
    labels.push(y);
  }
  return { paths, labels };
}

function emptyOf(train: IndexedSplit, K: number): number[] {
  const c = new Array<number>(K).fill(0);
  for (const y of train.labels) c[y]++;
  return c.flatMap((n, i) => (n === 0 ? [i] : []));
}

/** Builds the index from train2018.json / val2018.json (the official COCO-style annotations). */
export async function indexInat18Json(trainFile: string, valFile: string): Promise<Inat18Index> {
  const trainDoc = await readJson(trainFile);
  const tn = basename(trainFile);
  const { ids, names } = readCategories(trainDoc, tn);
  const labelOf = new Map(ids.map((id, i) => [id, i] as [number, number]));
  const train = readCocoSplit(trainDoc, tn, labelOf);
  const valDoc = await readJson(valFile);
  const val = readCocoSplit(valDoc, basename(valFile), labelOf);
  return { version: 1, classNames: names, categoryIds: ids, train, val, emptyClasses: emptyOf(train, ids.length) };
}

/** Builds the index from iNaturalist18_train.txt / _val.txt (labels are already 0..K-1). */
export async function indexInat18Txt(trainFile: string, valFile: string): Promise<Inat18Index> {
  const tr = await readImageList(trainFile);
  let K = 0;
  for (const y of tr.labels) K = Math.max(K, y + 1);
  const va = await readImageList(valFile, K);
  const train = { paths: tr.paths, labels: Array.from(tr.labels) };
  const ids = Array.from({ length: K }, (_, i) => i);
  return { version: 1, classNames: ids.map(String), categoryIds: ids, train, val: { paths: va.paths, labels: Array.from(va.labels) }, emptyClasses: emptyOf(train, K) };
}

export function warnEmptyClasses(index: Inat18Index, file: string, log?: Logger): void {
  if (index.emptyClasses.length) {
    log?.warn(`${file}: ${index.emptyClasses.length} class(es) have no training images (first: label ${index.emptyClasses[0]}, ${JSON.stringify(index.classNames[index.emptyClasses[0]])}); they count as few-shot`);
  }
}
