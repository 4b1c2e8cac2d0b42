import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { findCifarDir, readCifarBinary, readCifarClassNames } from './cifar-binary';
import { classCounts, describe, DEFAULT_THRESHOLDS } from './describe';
import { downloadCifar } from './download';
import { DataFormatError } from './errors';
import { FileDataset } from './file-dataset';
import { isDirectory, listImageFolder } from './image-folder';
import { warnEmptyClasses } from './inat18';
import { readImageList } from './list-file';
import { exponentialProfile, longTailSubset } from './longtail-profile';
import { MemoryDataset } from './memory-dataset';
import { NORMALIZATION } from './normalization';
import { defaultCacheDir, prepareCifar10Jpeg, prepareInat18Index } from './prepare';
import { usePreparedStore } from './store-dataset';
import { syntheticDataset } from './synthetic';
import { transformOptions } from './transforms';
import type { DataSplit, DatasetSpec, ImageDataset, LoadOptions, Normalization, TransformOptions } from './types';
import { leftOutValidation, stratifiedHoldOut, validationParams } from './validation';

type Subsettable = MemoryDataset | FileDataset;

/** Applies the exponential profile to a training split; nMax defaults to the smallest source class.
 *  `kept`: the kept source indices (null when the profile keeps everything). */
function makeLongTailed<T extends Subsettable>(train: T, spec: DatasetSpec, defaultIF: number): { train: T; imbalanceFactor: number; kept: Int32Array | null } {
  const IF = spec.imbalanceFactor ?? defaultIF;
  if (IF === 1 && spec.maxPerClass === undefined) return { train, imbalanceFactor: 1, kept: null };
  const counts = new Array<number>(train.numClasses).fill(0);
  for (const y of train.labels) counts[y]++;
  const nMax = spec.maxPerClass ?? Math.min(...counts);
  const keep = exponentialProfile(nMax, train.numClasses, IF);
  const idx = longTailSubset(train.labels, keep, spec.seed ?? 0);
  return { train: train.subset(idx) as T, imbalanceFactor: IF, kept: idx };
}

interface WithValidation<T extends Subsettable> {
  train: T;
  val: T;
  valRule: string;
}

/** Class c's share of a stratified hold-out, in words. */
function holdOutRule(fraction: number, cap: number, atLeastOne: boolean): string {
  const bounds = [Number.isFinite(cap) ? `at most ${cap}` : '', atLeastOne ? 'at least 1 when n_c >= 2' : ''].filter(Boolean).join(', ');
  return `floor(${fraction} x n_c) of each class's n_c training images${bounds ? ` (${bounds})` : ''}, held out of training`;
}

function holdOut<T extends Subsettable>(full: T, o: { fraction: number; cap: number; atLeastOne: boolean; seed: number }, valName: string): WithValidation<T> {
  const h = stratifiedHoldOut(full.labels, full.numClasses, o);
  return { train: full.subset(h.train) as T, val: full.subset(h.val, valName) as T, valRule: holdOutRule(o.fraction, o.cap, o.atLeastOne) };
}

/**
 * CIFAR (and its long-tailed variants): the long-tailed training set as without validation, and up to
 * valPerClass images per class from what the profile leaves out; at IF 1 (nothing left out) a hold-out.
 */
function cifarValidation<T extends Subsettable>(full: T, spec: DatasetSpec, defaultIF: number, valName: string): WithValidation<T> & { imbalanceFactor: number } {
  const { perClass, fraction } = validationParams(spec, full.numClasses <= 10 ? 500 : 20);
  const seed = spec.seed ?? 0;
  const lt = makeLongTailed(full, spec, defaultIF);
  if (!lt.kept) return { ...holdOut(full, { fraction, cap: Infinity, atLeastOne: true, seed }, valName), imbalanceFactor: 1 };
  const v = leftOutValidation(full.labels, full.numClasses, lt.kept, perClass, seed);
  const valRule = `up to ${perClass} per class from the training images the long-tail profile leaves out (a class it keeps whole has none)`;
  return { train: lt.train, val: full.subset(v, valName) as T, valRule, imbalanceFactor: lt.imbalanceFactor };
}

function requireDir(spec: DatasetSpec): string {
  if (!spec.dataDir) throw new Error(`dataDir: missing: data set kind '${spec.kind}' needs the folder that holds its files`);
  return resolve(spec.dataDir);
}

function finishSplit(
  name: string,
  source: string,
  classNames: string[],
  s: { train: ImageDataset; val: ImageDataset; test: ImageDataset; valRule: string; groupCounts?: number[] },
  spec: DatasetSpec,
  IF?: number,
): DataSplit {
  const description = describe(name, source, classNames, s, { thresholds: spec.thresholds ?? DEFAULT_THRESHOLDS, imbalanceFactor: IF, valRule: s.valRule, groupCounts: s.groupCounts });
  return { train: s.train, val: s.val, test: s.test, description, inputShape: s.train.shape };
}

/** CIFAR-10/100 from the official binary batches, in memory, optionally long-tailed. */
async function cifarFromBinary(dir: string, classes: 10 | 100, spec: DatasetSpec, defaultIF: number): Promise<DataSplit> {
  const tr = await readCifarBinary(dir, classes, 'train');
  const te = await readCifarBinary(dir, classes, 'test');
  const t = transformOptions('cifar', { normalization: classes === 10 ? NORMALIZATION.cifar10 : NORMALIZATION.cifar100, ...spec.transform });
  const name = `cifar${classes}`;
  const full = new MemoryDataset(`${name}/train`, tr.pixels, tr.labels, classes, 32, 32, t);
  const test = new MemoryDataset(`${name}/test`, te.pixels, te.labels, classes, 32, 32, t);
  const { imbalanceFactor, ...s } = cifarValidation(full, spec, defaultIF, `${name}/val`);
  const label = imbalanceFactor === 1 ? name : `${name}-lt`;
  return finishSplit(label, dir, await readCifarClassNames(dir, classes), { ...s, test }, spec, imbalanceFactor);
}

/** Chooses the transform of a file data set: CIFAR-style for small images (<= 64 px), else 224 crops. */
async function fileTransform(firstImage: string, spec: DatasetSpec, norm: Normalization): Promise<TransformOptions> {
  let style: 'cifar' | 'imagenet' = spec.transform?.style ?? 'imagenet';
  let size = spec.imageSize;
  if (!spec.transform?.style) {
    try {
      const m = await sharp(firstImage).metadata();
      if (Math.max(m.width ?? 0, m.height ?? 0) <= 64) {
        style = 'cifar';
        size ??= Math.max(m.width ?? 32, m.height ?? 32);
      }
    } catch {
      /* undecodable first image: keep the default; the loader reports it */
    }
  }
  return transformOptions(style, { normalization: norm, ...(size ? { size, evalResize: style === 'cifar' ? size : Math.round((size * 256) / 224) } : {}), ...spec.transform });
}

/**
 * Image folders: validation from `val/` when it is there and is not the test folder, else a stratified
 * hold-out before the long-tail profile; `cifar`: the CIFAR rule instead (cifarValidation).
 */
async function imageFolder(root: string, spec: DatasetSpec, defaultIF: number, norm: Normalization, name: string, cifar = false): Promise<DataSplit> {
  // trainDir / testDir are relative to dataDir, or absolute (e.g. two separate root/<class>/<image> trees)
  const trainDir = resolve(root, spec.trainDir ?? 'train');
  const testDir = resolve(root, spec.testDir ?? (existsSync(join(root, 'test')) || !existsSync(join(root, 'val')) ? 'test' : 'val'));
  if (!existsSync(trainDir)) {
    throw new DataFormatError(root, '', `no ${spec.trainDir ?? 'train'} folder: expected dataDir/train/<class>/<image> and dataDir/test/<class>/<image> (or set trainDir and testDir to two root/<class>/<image> folders)`);
  }
  const tr = await listImageFolder(trainDir);
  const te = await listImageFolder(testDir, tr.classNames);
  const t = await fileTransform(tr.paths[0], spec, norm);
  const full = new FileDataset(`${name}/train`, tr.paths, tr.labels, tr.classNames.length, t, root);
  const test = new FileDataset(`${name}/test`, te.paths, te.labels, tr.classNames.length, t, root);
  if (cifar) {
    const { imbalanceFactor, ...s } = cifarValidation(full, spec, defaultIF, `${name}/val`);
    return finishSplit(imbalanceFactor === 1 ? name : `${name}-lt`, root, tr.classNames, { ...s, test }, spec, imbalanceFactor);
  }
  const { fraction } = validationParams(spec, 0);
  const valDir = spec.valDir ? resolve(root, spec.valDir) : join(root, 'val');
  if (spec.valDir && valDir === testDir) throw new RangeError(`valDir = ${spec.valDir}: it is the test folder; expected another folder (or leave it unset for a hold-out)`);
  let v: WithValidation<FileDataset>;
  if (valDir !== testDir && (spec.valDir || (await isDirectory(valDir)))) {
    const va = await listImageFolder(valDir, tr.classNames);
    v = { train: full, val: new FileDataset(`${name}/val`, va.paths, va.labels, tr.classNames.length, t, root), valRule: `the folder ${valDir}` };
  } else {
    v = holdOut(full, { fraction, cap: Infinity, atLeastOne: true, seed: spec.seed ?? 0 }, `${name}/val`);
  }
  const { train, imbalanceFactor } = makeLongTailed(v.train, spec, defaultIF);
  return finishSplit(imbalanceFactor === 1 ? name : `${name}-lt`, root, tr.classNames, { train, val: v.val, test, valRule: v.valRule }, spec, imbalanceFactor);
}

/** Checks that every file exists (optional, `verifyFiles`): one line names the first missing file. */
async function verifyFiles(ds: FileDataset, listFile: string): Promise<void> {
  const missing: string[] = [];
  const step = 64;
  for (let k = 0; k < ds.paths.length && missing.length < 5; k += step) {
    await Promise.all(
      ds.paths.slice(k, k + step).map(async (p) => {
        try {
          await stat(p);
        } catch {
          missing.push(p);
        }
      }),
    );
  }
  if (missing.length) throw new DataFormatError(listFile, `image ${missing[0]}`, `file not found${missing.length > 1 ? ` (and ${missing.length - 1}+ more)` : ''}: expected every listed image to exist`);
}

/**
 * Opens a data set described by `spec`; validates files on the way (errors name file, line/key, expectation).
 * Image files are read from their prepared store when one was built for them (store-dataset.ts).
 */
export async function loadDataset(spec: DatasetSpec, opts: LoadOptions = {}): Promise<DataSplit> {
  return usePreparedStore(await loadOriginals(spec, opts), spec, opts.log);
}

/** loadDataset without the prepared store: what the preparation itself reads. */
export async function loadOriginals(spec: DatasetSpec, opts: LoadOptions = {}): Promise<DataSplit> {
  opts.signal?.throwIfAborted();
  switch (spec.kind) {
    case 'synthetic':
      return syntheticDataset({
        numClasses: spec.numClasses,
        maxPerClass: spec.maxPerClass,
        imbalanceFactor: spec.imbalanceFactor,
        testPerClass: spec.testPerClass,
        valPerClass: spec.valPerClass,
        seed: spec.seed,
        imageSize: spec.imageSize,
        thresholds: spec.thresholds,
        transform: spec.transform,
      });
    case 'cifar-binary':
    case 'cifar10-lt':
    case 'cifar100-lt': {
      const lt = spec.kind !== 'cifar-binary';
      let dir = spec.dataDir ? resolve(spec.dataDir) : undefined;
      if (spec.kind === 'cifar-binary') {
        const d = requireDir(spec);
        const c10 = await findCifarDir(d, 10);
        const c100 = c10 ? null : await findCifarDir(d, 100);
        if (!c10 && !c100) throw new DataFormatError(d, '', 'no data_batch_1.bin or train.bin: expected the official CIFAR-10 or CIFAR-100 binary batches');
        return cifarFromBinary((c10 ?? c100) as string, c10 ? 10 : 100, spec, 1);
      }
      const classes = spec.kind === 'cifar10-lt' ? 10 : 100;
      const norm = classes === 10 ? NORMALIZATION.cifar10 : NORMALIZATION.cifar100;
      const defaultIF = lt ? 100 : 1;
      if (!dir && classes === 10 && !spec.download) {
        // No folder given: the shared CIFAR-10 JPEGs, unpacked once into the cache.
        dir = (await prepareCifar10Jpeg({ cacheDir: spec.cacheDir, log: opts.log })).value;
      }
      if (!dir) dir = join(spec.cacheDir ?? defaultCacheDir(), `cifar${classes}`);
      const bin = await findCifarDir(dir, classes);
      if (bin) return cifarFromBinary(bin, classes, spec, defaultIF);
      if (await isDirectory(join(dir, spec.trainDir ?? 'train'))) return imageFolder(dir, { ...spec, transform: { style: 'cifar', ...spec.transform } }, defaultIF, norm, `cifar${classes}`, true);
      if (spec.download) return cifarFromBinary(await downloadCifar(classes, dir, { log: opts.log, signal: opts.signal }), classes, spec, defaultIF);
      throw new DataFormatError(dir, '', `no CIFAR-${classes} binary batches and no train/<class> folders: expected one of them (or download: true)`);
    }
    case 'image-folder':
      return imageFolder(requireDir(spec), spec, 1, spec.transform?.normalization ?? NORMALIZATION.imagenet, 'image-folder');
    case 'inat18': {
      const root = requireDir(spec);
      const { value: idx, path } = await prepareInat18Index(root, { format: spec.inatFormat, cacheDir: spec.cacheDir, log: opts.log });
      warnEmptyClasses(idx, path, opts.log);
      const t = transformOptions('imagenet', { normalization: NORMALIZATION.inat18, ...(spec.imageSize ? { size: spec.imageSize } : {}), ...spec.transform });
      const K = idx.classNames.length;
      const full = new FileDataset('inat18/train', idx.train.paths.map((p) => join(root, p)), Int32Array.from(idx.train.labels), K, t, root);
      const test = new FileDataset('inat18/val', idx.val.paths.map((p) => join(root, p)), Int32Array.from(idx.val.labels), K, t, root);
      if (spec.verifyFiles) {
        await verifyFiles(full, 'train annotations');
        await verifyFiles(test, 'val annotations');
      }
      // val2018 is the field's test set: validation is held out of train2018; the groups stay train2018's.
      const { perClass, fraction } = validationParams(spec, 3);
      // No minimum: a class under 1 / valSplit images (10 by default) keeps all of them for training.
      const s = holdOut(full, { fraction, cap: perClass, atLeastOne: false, seed: spec.seed ?? 0 }, 'inat18/train-heldout');
      return finishSplit('inat18', root, idx.classNames, { ...s, test, groupCounts: classCounts(full.labels, K) }, spec);
    }
    case 'imagenet-lt': {
      const root = requireDir(spec);
      const lists = spec.listDir ? resolve(spec.listDir) : root;
      const trainFile = join(lists, 'ImageNet_LT_train.txt');
      if (spec.testSplit === 'val') throw new RangeError(`testSplit = 'val': for imagenet-lt ImageNet_LT_val.txt is the validation split; expected 'test'`);
      const testFile = join(lists, 'ImageNet_LT_test.txt');
      const valFile = join(lists, 'ImageNet_LT_val.txt');
      const tr = await readImageList(trainFile);
      let K = 0;
      for (const y of tr.labels) K = Math.max(K, y + 1);
      const te = await readImageList(testFile, K);
      const va = await readImageList(valFile, K);
      const t = transformOptions('imagenet', { normalization: NORMALIZATION.imagenet, ...(spec.imageSize ? { size: spec.imageSize } : {}), ...spec.transform });
      const train = new FileDataset('imagenet-lt/train', tr.paths.map((p) => join(root, p)), tr.labels, K, t, root);
      const test = new FileDataset('imagenet-lt/test', te.paths.map((p) => join(root, p)), te.labels, K, t, root);
      const val = new FileDataset('imagenet-lt/val', va.paths.map((p) => join(root, p)), va.labels, K, t, root);
      if (spec.verifyFiles) {
        await verifyFiles(train, trainFile);
        await verifyFiles(val, valFile);
        await verifyFiles(test, testFile);
      }
      return finishSplit('imagenet-lt', root, Array.from({ length: K }, (_, i) => String(i)), { train, val, test, valRule: 'ImageNet_LT_val.txt' }, spec);
    }
    default:
      throw new RangeError(`kind = ${JSON.stringify((spec as { kind: unknown }).kind)}: expected one of synthetic, cifar10-lt, cifar100-lt, image-folder, inat18, imagenet-lt, cifar-binary`);
  }
}
