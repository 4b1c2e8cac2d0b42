import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '@iccl/trainer-api';
import { ImageDecodeError } from './errors';
import { FileDataset } from './file-dataset';
import { DEFAULT_STORE_PARAMS, findStore, rebuildHint, type StoreManifest, type StoreParams } from './prepared-store';
import { readShardTable, ROW, ShardReader } from './shard-file';
import { decodeRawRgb } from './raw-transform';
import { decodeBuffer } from './transforms';
import type { DataSplit, DatasetSpec, ImageDataset, TransformOptions, WorkerRecipe } from './types';

/** Per item: shard, record in the shard, offset, length, width, height, crc. */
export const ITEM_ROW = 7;

export type StoreRecipe = Extract<WorkerRecipe, { kind: 'store' }>;

/** Reads items of a store recipe (main thread or worker): the record, its CRC, then the usual transform. */
export function storeItemLoader(r: StoreRecipe): (i: number, rng: () => number, train: boolean, out?: Float32Array) => Promise<Float32Array> {
  const reader = new ShardReader(r.shards, r.rebuild);
  return async (i, rng, train, out) => {
    const [s, k, off, len, w, h, crc] = r.rows.subarray(i * ITEM_ROW, (i + 1) * ITEM_ROW);
    const name = `${r.shards[s]} record ${k}`;
    if (!len) throw new ImageDecodeError(name, 'the original could not be decoded when the store was prepared');
    return reader.withRecord(s, k, off, len, crc, (buf) =>
      r.format === 'raw' ? decodeRawRgb(buf, w, h, name, r.transform, rng, train, out) : decodeBuffer(buf, name, r.transform, rng, train, out),
    );
  };
}

/** A split read from a prepared store; ids and labels are the originals' (the store was matched on them). */
export class StoreDataset implements ImageDataset {
  readonly size: number;
  readonly shape: [number, number, number];
  private loader?: ReturnType<typeof storeItemLoader>;
  constructor(
    readonly name: string,
    private readonly recipe: StoreRecipe,
    readonly labels: Int32Array,
    readonly numClasses: number,
    private readonly ids: string[],
  ) {
    this.size = labels.length;
    this.shape = [recipe.transform.size, recipe.transform.size, 3];
  }

  load(i: number, rng: () => number, train: boolean): Promise<Float32Array> {
    if (!(i >= 0 && i < this.size)) return Promise.reject(new RangeError(`${this.name}: item ${i} out of range [0, ${this.size})`));
    this.loader ??= storeItemLoader(this.recipe);
    return this.loader(i, rng, train);
  }

  itemId(i: number): string {
    return this.ids[i];
  }

  workerRecipe(): WorkerRecipe {
    return this.recipe;
  }
}

interface OpenStore {
  shards: string[];
  /** id -> [row in `rows`] */
  where: Map<string, number>;
  rows: Uint32Array;
  labels: Int32Array;
}

/** Reads every shard's table (a truncated or corrupt one is one error naming it) into one item table. */
export async function openStoreTables(dir: string, m: StoreManifest): Promise<OpenStore> {
  const shards: string[] = [];
  const parts: Uint32Array[] = [];
  const where = new Map<string, number>();
  let n = 0;
  for (const split of Object.values(m.splits)) {
    for (let s = 0; s < split.shards.length; s++) {
      const file = join(dir, split.shards[s]);
      const t = await readShardTable(file, rebuildHint(m.kind));
      const records = t.rows.length / ROW;
      const part = new Uint32Array(records * ITEM_ROW);
      for (let k = 0; k < records; k++) {
        const [off, len, w, h, , crc] = t.rows.subarray(k * ROW, (k + 1) * ROW);
        part.set([shards.length, k, off, len, w, h, crc], k * ITEM_ROW);
        where.set(split.ids[s * m.recordsPerShard + k], n + k);
      }
      const labels = new Uint32Array(records);
      for (let k = 0; k < records; k++) labels[k] = t.rows[k * ROW + 4];
      parts.push(part, labels);
      shards.push(file);
      n += records;
    }
  }
  const rows = new Uint32Array(new SharedArrayBuffer(n * ITEM_ROW * 4));
  const labels = new Int32Array(n);
  let r = 0;
  for (let p = 0; p < parts.length; p += 2) {
    rows.set(parts[p], r * ITEM_ROW);
    labels.set(parts[p + 1], r);
    r += parts[p + 1].length;
  }
  return { shards, where, rows, labels };
}

/** A FileDataset's items as a StoreDataset, or the reason why the store does not cover them. */
export function storeSplit(ds: FileDataset, st: OpenStore, format: StoreParams['format'], transform: TransformOptions, rebuild: string): StoreDataset | string {
  const rows = new Uint32Array(new SharedArrayBuffer(ds.size * ITEM_ROW * 4));
  const ids: string[] = new Array(ds.size);
  for (let i = 0; i < ds.size; i++) {
    const id = ds.itemId(i);
    const j = st.where.get(id);
    if (j === undefined) return `${ds.name}: item ${id} is not in the store`;
    if (st.labels[j] !== ds.labels[i]) return `${ds.name}: item ${id} has label ${st.labels[j]} in the store, ${ds.labels[i]} in the annotations`;
    rows.set(st.rows.subarray(j * ITEM_ROW, (j + 1) * ITEM_ROW), i * ITEM_ROW);
    ids[i] = id;
  }
  const recipe: StoreRecipe = { kind: 'store', shards: st.shards, rows, format, transform, rebuild };
  return new StoreDataset(ds.name, recipe, ds.labels, ds.numClasses, ids);
}

/** The store parameters a spec asks for: `prepared: false` or ICCL_PREPARED=off reads the originals. */
export function wantedStore(spec: DatasetSpec): StoreParams | null {
  if (spec.prepared === false || /^(off|0|false|no)$/i.test(process.env.ICCL_PREPARED ?? '')) return null;
  return { ...DEFAULT_STORE_PARAMS, ...(typeof spec.prepared === 'object' ? spec.prepared : {}) };
}

/**
 * Swaps every file split of `data` for the prepared store of the same data set when one exists and covers
 * every item with the same label: the same ids, labels, order (so the same sampling), a different digest.
 * Only for 224-style (imagenet) transforms whose evaluation resize does not exceed the store's side.
 */
export async function usePreparedStore(data: DataSplit, spec: DatasetSpec, log?: Logger): Promise<DataSplit> {
  const p = wantedStore(spec);
  const files = Object.entries(data).filter((e): e is [string, FileDataset] => e[1] instanceof FileDataset);
  if (!p || files.length === 0) return data;
  const t = files[0][1].transform;
  if (t.style !== 'imagenet') return data;
  const found = await findStore(spec.kind, data.description.source, p, spec.cacheDir);
  if (!found) return data;
  if (t.evalResize > p.side) {
    log?.warn(`${found.dir}: shorter side ${p.side} < evaluation resize ${t.evalResize}: reading the originals`);
    return data;
  }
  const st = await openStoreTables(found.dir, found.manifest);
  const out: Record<string, unknown> = { ...data };
  for (const [key, ds] of files) {
    const s = storeSplit(ds, st, p.format, ds.transform, rebuildHint(spec.kind));
    if (typeof s === 'string') {
      log?.warn(`${found.dir}: ${s}: reading the originals (re-run the preparation target)`);
      return data;
    }
    out[key] = s;
  }
  const d = data.description;
  const tag = `s${p.side}-${p.format === 'jpeg' ? `q${p.quality}` : 'raw'}`;
  const digest = createHash('sha256').update(`${d.digest}\nprepared\n${JSON.stringify(p)}`).digest('hex');
  log?.info(`reading the prepared store ${found.dir} (${tag})`);
  return { ...(out as unknown as DataSplit), description: { ...d, name: `${d.name}@prepared-${tag}`, digest, source: found.dir, prepared: { ...p, from: d.source } } };
}
