import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '@iccl/trainer-api';
import { indexInat18Json, indexInat18Txt, type Inat18Index } from './inat18';

const run = promisify(execFile);

/** The workspace root (src/data -> plugins/longtail -> root), also right for a compiled dist/ layout's depth. */
export function repoRoot(): string {
  let d = resolve(__dirname);
  for (let k = 0; k < 6; k++) {
    if (existsSync(join(d, 'nx.json'))) return d;
    d = resolve(d, '..');
  }
  return process.cwd();
}

/** Default folder for prepared caches: $ICCL_DATA_CACHE, else <repo>/.data (git-ignored). */
export function defaultCacheDir(): string {
  return process.env.ICCL_DATA_CACHE || join(repoRoot(), '.data');
}

/** The shared CIFAR-10 JPEG archive, if this machine has one ($ICCL_CIFAR10_TARBALL or ../shared/data). */
export function sharedCifar10Tarball(): string | null {
  const cands = [process.env.ICCL_CIFAR10_TARBALL, join(repoRoot(), '..', 'shared', 'data', 'cifar10-jpeg.tar.gz')];
  for (const c of cands) if (c && existsSync(c)) return c;
  return null;
}

/** A cache key from input files (absolute path, size, modification time) and a format version. */
export async function inputsKey(files: string[], version: string): Promise<string> {
  const h = createHash('sha256').update(version);
  for (const f of files) {
    const s = await stat(f);
    h.update(`\n${resolve(f)}\t${s.size}\t${Math.floor(s.mtimeMs)}`);
  }
  return h.digest('hex').slice(0, 16);
}

export interface PrepareResult<T> {
  value: T;
  /** the cache file or folder */
  path: string;
  /** true when it was already there */
  cached: boolean;
}

/**
 * The iNaturalist 2018 index (paths + labels + class names, both splits) built once from the annotation
 * files and stored as JSON under the cache folder, keyed by the inputs: a second call with unchanged files
 * reads the small index instead of parsing the annotations.
 */
export async function prepareInat18Index(dataDir: string, opts: { format?: 'json' | 'txt'; cacheDir?: string; log?: Logger } = {}): Promise<PrepareResult<Inat18Index>> {
  const json = [join(dataDir, 'train2018.json'), join(dataDir, 'val2018.json')];
  const txt = [join(dataDir, 'iNaturalist18_train.txt'), join(dataDir, 'iNaturalist18_val.txt')];
  const format = opts.format ?? (existsSync(json[0]) ? 'json' : existsSync(txt[0]) ? 'txt' : null);
  if (!format) throw new Error(`${dataDir}: no train2018.json or iNaturalist18_train.txt: expected the iNaturalist 2018 annotation files`);
  const files = format === 'json' ? json : txt;
  for (const f of files) if (!existsSync(f)) throw new Error(`${f}: file not found: expected the iNaturalist 2018 ${format} annotations`);
  const key = await inputsKey(files, `inat18-index-v1-${format}`);
  const name = `inat18-index-${key}.json`;
  // Default: next to the data (<dataDir>/.cache), or the workspace cache when the data folder is read-only.
  const dirs = opts.cacheDir ? [opts.cacheDir] : [join(dataDir, '.cache'), defaultCacheDir()];
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) {
      const value = JSON.parse(await readFile(p, 'utf8')) as Inat18Index;
      if (value.version === 1) return { value, path: p, cached: true };
    }
  }
  opts.log?.info(`building the iNaturalist 2018 index from ${files.join(', ')}`);
  const value = format === 'json' ? await indexInat18Json(files[0], files[1]) : await indexInat18Txt(files[0], files[1]);
  let lastError: Error | null = null;
  for (const d of dirs) {
    const path = join(d, name);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await mkdir(d, { recursive: true });
      await writeFile(tmp, JSON.stringify(value));
      await rename(tmp, path); // atomic: a concurrent reader sees the whole file or none
      return { value, path, cached: false };
    } catch (e) {
      lastError = e as Error;
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
  throw new Error(`cannot write the iNaturalist index into ${dirs.join(' or ')}: ${lastError?.message}; expected a writable cache folder (cacheDir)`);
}

/**
 * Unpacks the shared CIFAR-10 JPEG archive once into <cacheDir>/cifar10-jpeg (train/<class>, test/<class>).
 * A marker file records the archive's key; an unchanged archive is not unpacked again.
 */
export async function prepareCifar10Jpeg(opts: { tarball?: string; cacheDir?: string; log?: Logger } = {}): Promise<PrepareResult<string>> {
  const tarball = opts.tarball ?? sharedCifar10Tarball();
  if (!tarball || !existsSync(tarball)) {
    throw new Error(`cifar10-jpeg.tar.gz not found (${tarball ?? 'set ICCL_CIFAR10_TARBALL or place it at ../shared/data'}): expected the shared CIFAR-10 JPEG archive`);
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const dest = join(cacheDir, 'cifar10-jpeg');
  const marker = join(dest, '.prepared');
  const key = await inputsKey([tarball], 'cifar10-jpeg-v1');
  if (existsSync(marker) && (await readFile(marker, 'utf8')).trim() === key) return { value: dest, path: dest, cached: true };
  opts.log?.info(`unpacking ${tarball} into ${dest}`);
  await mkdir(cacheDir, { recursive: true });
  const tmp = join(cacheDir, `.cifar10-jpeg.${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', tmp]);
  const inner = existsSync(join(tmp, 'cifar10-jpeg')) ? join(tmp, 'cifar10-jpeg') : tmp;
  if (!existsSync(join(inner, 'train')) || !existsSync(join(inner, 'test'))) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(`${tarball}: no cifar10-jpeg/train and cifar10-jpeg/test inside: expected the shared CIFAR-10 JPEG archive`);
  }
  await writeFile(join(inner, '.prepared'), key + '\n');
  await rm(dest, { recursive: true, force: true });
  await rename(inner, dest);
  await rm(tmp, { recursive: true, force: true });
  return { value: dest, path: dest, cached: false };
}
