import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import type { Logger } from '@iccl/trainer-api';
import { defaultCacheDir } from './prepare';
import { readShardTable, ROW, verifyShardPayloads, writeShard, type ShardRecord } from './shard-file';

/**
 * A prepared store: every image of a data set's splits written once, EXIF-oriented, sRGB, shorter side
 * resized (down only) to `side`, as JPEG at `quality` or as raw RGB, in shards of a fixed number of items
 * (shard-file.ts) with a manifest of the item ids per split. It is positional: item k of a split is the
 * k-th id of the split's list, and the loader swaps it in only where the ids and labels agree.
 */
export interface StoreParams {
  /** shorter side after resizing, in pixels (never enlarged) */
  side: number;
  format: 'jpeg' | 'raw';
  /** JPEG quality (ignored for raw) */
  quality: number;
}

export const DEFAULT_STORE_PARAMS: StoreParams = { side: 256, format: 'jpeg', quality: 90 };
const VERSION = 1;

export interface StoreSplitInput {
  /** stable ids (the data set's itemId), absolute paths of the originals, labels */
  ids: string[];
  paths: string[];
  labels: Int32Array;
}

export interface StoreManifest {
  version: number;
  kind: string;
  source: string;
  params: StoreParams;
  recordsPerShard: number;
  splits: Record<string, { ids: string[]; shards: string[] }>;
  complete: boolean;
}

export function checkStoreParams(p: StoreParams): StoreParams {
  if (!(Number.isInteger(p.side) && p.side >= 8 && p.side <= 4096)) throw new RangeError(`side = ${p.side}: expected an integer in [8, 4096]`);
  if (p.format !== 'jpeg' && p.format !== 'raw') throw new RangeError(`format = ${JSON.stringify(p.format)}: expected jpeg or raw`);
  if (!(Number.isInteger(p.quality) && p.quality >= 1 && p.quality <= 100)) throw new RangeError(`quality = ${p.quality}: expected an integer in [1, 100]`);
  return p;
}

/** The store's folder name: the kind, the data root and the parameters (a new set of any makes a new store). */
export function storeName(kind: string, source: string, p: StoreParams): string {
  const h = createHash('sha256').update(resolve(source)).digest('hex').slice(0, 10);
  return `${kind}-${h}-s${p.side}-${p.format === 'jpeg' ? `q${p.quality}` : 'raw'}`;
}

/** Candidate parent folders: <dataDir>/.cache/prepared, then the workspace cache (for a read-only data folder). */
export function storeParents(source: string, cacheDir?: string): string[] {
  return cacheDir ? [join(cacheDir, 'prepared')] : [join(source, '.cache', 'prepared'), join(defaultCacheDir(), 'prepared')];
}

export function rebuildHint(kind: string): string {
  return `rebuild it with the preparation target (nx run longtail:prepare-${kind} --data-dir=...)`;
}

/** One original, oriented and resized so the shorter side is at most `side`, encoded for the store. */
export async function encodeImage(path: string, p: StoreParams): Promise<Omit<ShardRecord, 'label'>> {
  // bilinear (antialiased when shrinking): the filter of the evaluation resize, so eval at side = evalResize
  // reads what the originals' eval path computes, up to the JPEG re-encoding
  let img = sharp(path, { autoOrient: true, failOn: 'error' })
    .resize({ width: p.side, height: p.side, fit: 'outside', withoutEnlargement: true, kernel: 'linear' })
    .toColourspace('srgb')
    .removeAlpha();
  img = p.format === 'jpeg' ? img.jpeg({ quality: p.quality }) : img.raw();
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  if (p.format === 'raw' && info.channels !== 3) throw new Error(`${info.channels} channels after sRGB conversion: expected 3`);
  return { payload: data, width: info.width, height: info.height };
}

/** Key of one shard's inputs: parameters, then id, label, size and mtime of each original. */
async function shardKey(s: StoreSplitInput, lo: number, hi: number, p: StoreParams): Promise<string> {
  const h = createHash('sha256').update(JSON.stringify({ VERSION, ...p }));
  for (let i = lo; i < hi; i++) {
    const st = await stat(s.paths[i]).catch(() => null);
    h.update(`\n${s.ids[i]}\t${s.labels[i]}\t${st ? `${st.size}\t${Math.floor(st.mtimeMs)}` : 'missing'}`);
  }
  return h.digest('hex').slice(0, 32);
}

async function encodeRange(s: StoreSplitInput, lo: number, hi: number, p: StoreParams, concurrency: number): Promise<{ records: ShardRecord[]; failed: number }> {
  const records: ShardRecord[] = new Array(hi - lo);
  let next = lo;
  let failed = 0;
  const lane = async () => {
    for (let i = next++; i < hi; i = next++) {
      try {
        records[i - lo] = { ...(await encodeImage(s.paths[i], p)), label: s.labels[i] };
      } catch {
        failed++; // kept as an empty record: the loader skips it as it skips an unreadable original
        records[i - lo] = { payload: Buffer.alloc(0), width: 0, height: 0, label: s.labels[i] };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { records, failed };
}

export interface BuildOptions {
  kind: string;
  source: string;
  params?: StoreParams;
  cacheDir?: string;
  recordsPerShard?: number;
  concurrency?: number;
  log?: Logger;
}

export interface BuildResult {
  dir: string;
  built: number;
  kept: number;
  rebuilt: number;
  failedImages: number;
}

async function writableParent(dirs: string[], name: string): Promise<string> {
  for (const d of dirs) if (existsSync(join(d, name, 'manifest.json'))) return join(d, name);
  for (const d of dirs) {
    try {
      await mkdir(join(d, name), { recursive: true });
      return join(d, name);
    } catch {
      /* next candidate */
    }
  }
  throw new Error(`cannot create a prepared store in ${dirs.join(' or ')}: expected a writable cache folder (--cache-dir)`);
}

async function writeManifest(dir: string, m: StoreManifest): Promise<void> {
  const tmp = join(dir, `manifest.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(m));
  await rename(tmp, join(dir, 'manifest.json'));
}

/**
 * Writes (or completes) the store of `splits`. Resumable and cached by its inputs: a shard whose footer
 * carries the key of its current inputs and whose every record passes its CRC is kept; a missing, stale,
 * truncated or corrupt one is (re)written. The manifest says complete only after the last shard.
 */
export async function buildStore(splits: Record<string, StoreSplitInput>, o: BuildOptions): Promise<BuildResult> {
  const p = checkStoreParams(o.params ?? DEFAULT_STORE_PARAMS);
  const R = o.recordsPerShard ?? (p.format === 'raw' ? 256 : 1024);
  const dir = await writableParent(storeParents(o.source, o.cacheDir), storeName(o.kind, o.source, p));
  const hint = rebuildHint(o.kind);
  const manifest: StoreManifest = { version: VERSION, kind: o.kind, source: resolve(o.source), params: p, recordsPerShard: R, splits: {}, complete: false };
  for (const [name, s] of Object.entries(splits)) {
    const n = Math.ceil(s.ids.length / R);
    manifest.splits[name] = { ids: s.ids, shards: Array.from({ length: n }, (_, k) => `${name}-${String(k).padStart(5, '0')}.shard`) };
  }
  await writeManifest(dir, manifest);
  const r: BuildResult = { dir, built: 0, kept: 0, rebuilt: 0, failedImages: 0 };
  const conc = o.concurrency ?? Math.max(2, cpus().length);
  for (const [name, s] of Object.entries(splits)) {
    const shards = manifest.splits[name].shards;
    for (let k = 0; k < shards.length; k++) {
      const file = join(dir, shards[k]);
      const lo = k * R;
      const hi = Math.min(s.ids.length, lo + R);
      const key = await shardKey(s, lo, hi, p);
      let existed = false;
      if (existsSync(file)) {
        existed = true;
        try {
          const t = await readShardTable(file, hint);
          if (t.key === key && t.rows.length === (hi - lo) * ROW) {
            await verifyShardPayloads(file, t, hint);
            r.kept++;
            continue;
          }
          o.log?.info(`${file}: inputs changed: rewriting`);
        } catch (e) {
          o.log?.warn(`${(e as Error).message.split(':')[0]}: rewriting (${(e as Error).message})`);
        }
      }
      const { records, failed } = await encodeRange(s, lo, hi, p, conc);
      r.failedImages += failed;
      await writeShard(file, records, key);
      if (existed) r.rebuilt++;
      else r.built++;
      if ((k + 1) % 20 === 0) o.log?.info(`${name}: ${k + 1}/${shards.length} shards`);
    }
  }
  manifest.complete = true;
  await writeManifest(dir, manifest);
  return r;
}

/** The complete store for (kind, source, params), or null. */
export async function findStore(kind: string, source: string, p: StoreParams, cacheDir?: string): Promise<{ dir: string; manifest: StoreManifest } | null> {
  for (const parent of storeParents(source, cacheDir)) {
    const dir = join(parent, storeName(kind, source, p));
    const f = join(dir, 'manifest.json');
    if (!existsSync(f)) continue;
    const manifest = JSON.parse(await readFile(f, 'utf8')) as StoreManifest;
    if (manifest.version === VERSION && manifest.complete) return { dir, manifest };
  }
  return null;
}
