/**
 * Validation splits of every data set kind: disjoint from train and test (by item id, i.e. by file or
 * source index), a function of the data spec alone (the same for every trial and on a resume), and the
 * long-tailed training sets of CIFAR-LT and synthetic unchanged by them.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exponentialProfile, holdOutCount, leftOutValidation, listImageFolder, loadDataset, longTailSubset, prepareCifar10Jpeg, stratifiedHoldOut, syntheticDataset } from '../src/data';
import type { DataSplit, DatasetSpec, ImageDataset } from '../src/data';
import { COMMON_PARAMS, datasetSpec, type CommonParams } from '../src/train';

let cifar = '';
let work = '';

beforeAll(async () => {
  cifar = (await prepareCifar10Jpeg()).value;
  work = mkdtempSync(join(tmpdir(), 'lt-validation-'));
}, 120000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ids = (ds: ImageDataset) => Array.from({ length: ds.size }, (_, i) => ds.itemId(i));

/** The three splits share no item (ids are file paths relative to the root, or source indices). */
function expectDisjoint(d: DataSplit): void {
  const [tr, va, te] = [d.train, d.val, d.test].map((s) => new Set(ids(s)));
  expect(va.size).toBe(d.val.size);
  for (const id of va) {
    expect(tr.has(id)).toBe(false);
    expect(te.has(id)).toBe(false);
  }
  expect(d.val.size).toBeGreaterThan(0);
}

/** `n` CIFAR JPEGs of class `cls` (from split `from`, starting at file `start`) into root/<dir>/<cls>/. */
function copyImages(root: string, dir: string, cls: string, n: number, from: 'train' | 'test', start = 0): string[] {
  const src = join(cifar, from, cls);
  const files = readdirSync(src).sort().slice(start, start + n);
  mkdirSync(join(root, dir, cls), { recursive: true });
  return files.map((f) => {
    copyFileSync(join(src, f), join(root, dir, cls, f));
    return `${dir}/${cls}/${f}`;
  });
}

describe('the two rules', () => {
  test('left out: up to perClass of the items the profile did not keep, per class, in source order', () => {
    const labels = Int32Array.from([0, 0, 0, 1, 1, 1, 1, 2, 2]);
    const kept = Int32Array.from([0, 1, 2, 3, 7]);
    const v = leftOutValidation(labels, 3, kept, 2, 5);
    // class 0 kept whole: none; class 1: 2 of {4, 5, 6}; class 2: its one left-out item 8
    expect(Array.from(v).filter((i) => labels[i] === 0)).toEqual([]);
    expect(Array.from(v).filter((i) => labels[i] === 1).every((i) => [4, 5, 6].includes(i))).toBe(true);
    expect(Array.from(v).filter((i) => labels[i] === 1)).toHaveLength(2);
    expect(Array.from(v).filter((i) => labels[i] === 2)).toEqual([8]);
    expect(Array.from(v)).toEqual([...v].sort((a, b) => a - b));
    expect(Array.from(leftOutValidation(labels, 3, kept, 2, 5))).toEqual(Array.from(v));
  });

  test('hold out: min(cap, floor(f n)), at least 1 from n >= 2 when asked; every class keeps images', () => {
    expect([1, 2, 9, 10, 19, 20, 35, 1000].map((n) => holdOutCount(n, 0.1, 3, false))).toEqual([0, 0, 0, 1, 1, 2, 3, 3]);
    expect([1, 2, 9, 10].map((n) => holdOutCount(n, 0.1, Infinity, true))).toEqual([0, 1, 1, 1]);
    const labels = Int32Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
    const h = stratifiedHoldOut(labels, 3, { fraction: 0.5, cap: 3, atLeastOne: true, seed: 0 });
    expect(Array.from(h.val, (i) => labels[i])).toEqual([0, 1, 1, 1]);
    expect([...h.train, ...h.val].sort((a, b) => a - b)).toEqual([...labels.keys()]);
    expect(new Set(Array.from(h.train, (i) => labels[i]))).toEqual(new Set([0, 1, 2]));
  });

  test('bad valPerClass and valSplit get one line each', async () => {
    await expect(loadDataset({ kind: 'cifar10-lt', dataDir: cifar, valPerClass: -1 })).rejects.toThrow("valPerClass = -1: expected an integer >= 0 (0: the data set's default)");
    await expect(loadDataset({ kind: 'cifar10-lt', dataDir: cifar, valSplit: 0.7 })).rejects.toThrow("valSplit = 0.7: expected a fraction in (0, 0.5] of each class's training images");
    expect(() => syntheticDataset({ valPerClass: 2.5 })).toThrow("valPerClass = 2.5: expected an integer >= 0 (0: the data set's default)");
  });
});

describe('every data set kind', () => {
  test('synthetic: generated from streams of its own; train and test bytes as without it', async () => {
    const opts = { numClasses: 4, maxPerClass: 40, imbalanceFactor: 4, testPerClass: 6, seed: 2 };
    const a = syntheticDataset(opts);
    const b = syntheticDataset({ ...opts, valPerClass: 9 });
    expectDisjoint(a);
    expect(a.description.valCounts).toEqual([6, 6, 6, 6]);
    expect(b.description.valCounts).toEqual([9, 9, 9, 9]);
    for (const s of ['train', 'test'] as const) {
      expect(ids(b[s])).toEqual(ids(a[s]));
      for (const i of [0, 7, a[s].size - 1]) expect(await b[s].load(i, () => 0.5, false)).toEqual(await a[s].load(i, () => 0.5, false));
    }
    // a validation image is not a copy of a training or test image
    expect(await a.val.load(0, () => 0.5, false)).not.toEqual(await a.train.load(0, () => 0.5, false));
  });

  test('CIFAR-10-LT: 500 per class from what the profile leaves out; the long-tailed set is unchanged', async () => {
    const spec: DatasetSpec = { kind: 'cifar10-lt', dataDir: cifar, imbalanceFactor: 100, seed: 0 };
    const d = await loadDataset(spec);
    expectDisjoint(d);
    expect(d.description.trainCounts).toEqual([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
    // class 0 keeps all its 5000 images: it has no validation images
    expect(d.description.valCounts).toEqual([0, ...new Array(9).fill(500)]);
    // the training list is the profile's subset of the full listing, in its order, as it was computed before
    const full = await listImageFolder(join(cifar, 'train'));
    const kept = longTailSubset(full.labels, exponentialProfile(5000, 10, 100), 0);
    expect(ids(d.train)).toEqual(Array.from(kept, (i) => full.paths[i].slice(cifar.length + 1)));
    // a function of the spec: the same on another load (another trial, a resume)
    expect(ids((await loadDataset(spec)).val)).toEqual(ids(d.val));
    expect(ids((await loadDataset({ ...spec, seed: 1 })).val)).not.toEqual(ids(d.val));
  }, 120000);

  test('CIFAR-100-LT from binary batches: up to 20 per class left out; a class with fewer gives what it has', async () => {
    const dir = join(work, 'c100');
    mkdirSync(dir, { recursive: true });
    // 30 images per class, label = record % 100, pixels = the record index (so ids identify images)
    for (const [f, n] of [['train.bin', 3000], ['test.bin', 200]] as const) {
      const buf = Buffer.alloc(n * 3074);
      for (let r = 0; r < n; r++) {
        buf[r * 3074 + 1] = r % 100;
        buf.fill(r % 256, r * 3074 + 2, (r + 1) * 3074);
      }
      writeFileSync(join(dir, f), buf);
    }
    const d = await loadDataset({ kind: 'cifar100-lt', dataDir: dir, imbalanceFactor: 10 });
    expectDisjoint(d);
    const keep = exponentialProfile(30, 100, 10);
    expect(d.description.trainCounts).toEqual(keep);
    expect(d.description.valCounts).toEqual(keep.map((k) => Math.min(20, 30 - k)));
  });

  test('image folder: val/ when present; else a stratified hold-out before the profile', async () => {
    const root = join(work, 'folder');
    for (const cls of ['cat', 'ship']) {
      copyImages(root, 'train', cls, 10, 'train');
      copyImages(root, 'test', cls, 3, 'test');
      copyImages(root, 'val', cls, 2, 'test', 3);
    }
    const withVal = await loadDataset({ kind: 'image-folder', dataDir: root });
    expectDisjoint(withVal);
    expect(withVal.description.valCounts).toEqual([2, 2]);
    expect(ids(withVal.val).every((id) => id.startsWith('val/'))).toBe(true);
    expect(withVal.description.trainCounts).toEqual([10, 10]);
    rmSync(join(root, 'val'), { recursive: true });
    const held = await loadDataset({ kind: 'image-folder', dataDir: root, valSplit: 0.2, seed: 4 });
    expectDisjoint(held);
    expect(held.description.valCounts).toEqual([2, 2]);
    expect(held.description.trainCounts).toEqual([8, 8]);
    expect(new Set([...ids(held.train), ...ids(held.val)])).toEqual(new Set(ids(withVal.train)));
    expect(ids((await loadDataset({ kind: 'image-folder', dataDir: root, valSplit: 0.2, seed: 4 })).val)).toEqual(ids(held.val));
    await expect(loadDataset({ kind: 'image-folder', dataDir: root, valDir: 'test' })).rejects.toThrow('valDir = test: it is the test folder; expected another folder (or leave it unset for a hold-out)');
  });

  test('ImageNet-LT: ImageNet_LT_val.txt; its test stays ImageNet_LT_test.txt', async () => {
    const root = join(work, 'inlt');
    const lists: Record<string, string[]> = { train: [], val: [], test: [] };
    ['cat', 'ship'].forEach((cls, c) => {
      for (const [s, n, from, start] of [['train', 4, 'train', 0], ['val', 2, 'train', 4], ['test', 3, 'test', 0]] as const) {
        lists[s].push(...copyImages(root, s, cls, n, from, start).map((p) => `${p} ${c}`));
      }
    });
    for (const s of ['train', 'val', 'test']) writeFileSync(join(root, `ImageNet_LT_${s}.txt`), lists[s].join('\n') + '\n');
    const d = await loadDataset({ kind: 'imagenet-lt', dataDir: root, imageSize: 32 });
    expectDisjoint(d);
    expect(ids(d.val)).toEqual(lists.val.map((l) => l.split(' ')[0]));
    expect(ids(d.test)).toEqual(lists.test.map((l) => l.split(' ')[0]));
    await expect(loadDataset({ kind: 'imagenet-lt', dataDir: root, testSplit: 'val' })).rejects.toThrow("testSplit = 'val': for imagenet-lt ImageNet_LT_val.txt is the validation split; expected 'test'");
  });

  test('iNaturalist 2018: held out of train2018, at most 3 and 10% per class; val2018 stays the test', async () => {
    const root = join(work, 'inat');
    const train: string[] = [];
    const val: string[] = [];
    // 40, 21 and 8 training images: 3, 2 and 0 held out (a class under 10 images keeps all of them)
    [['cat', 40], ['ship', 21], ['frog', 8]].forEach(([cls, n], c) => {
      train.push(...copyImages(root, 'train_val2018', cls as string, n as number, 'train').map((p) => `${p} ${c}`));
      val.push(...copyImages(root, 'val2018', cls as string, 3, 'test').map((p) => `${p} ${c}`));
    });
    writeFileSync(join(root, 'iNaturalist18_train.txt'), train.join('\n') + '\n');
    writeFileSync(join(root, 'iNaturalist18_val.txt'), val.join('\n') + '\n');
    const spec: DatasetSpec = { kind: 'inat18', dataDir: root, inatFormat: 'txt', imageSize: 32, cacheDir: join(root, '.cache') };
    const d = await loadDataset(spec);
    expectDisjoint(d);
    expect(d.description.valCounts).toEqual([3, 2, 0]);
    expect(d.description.trainCounts).toEqual([37, 19, 8]);
    // Many/Medium/Few by the official counts: 21 stays medium although 19 (< 20) remain
    expect(d.description.groupCounts).toEqual([40, 21, 8]);
    expect(d.description.groups).toEqual({ many: [], medium: [0, 1], few: [2] });
    expect(ids(d.test)).toEqual(val.map((l) => l.split(' ')[0]));
    expect(ids((await loadDataset(spec)).val)).toEqual(ids(d.val));
  });

  test("every trial of a study sees the same split: only the data parameters choose it", async () => {
    const base = Object.fromEntries(Object.entries(COMMON_PARAMS).map(([k, v]) => [k, v.default])) as unknown as CommonParams;
    const p1 = { ...base, dataset: 'synthetic', maxPerClass: 30, testPerClass: 4 };
    const p2 = { ...p1, seed: 7, lr: 0.5, epochs: 3 };
    expect(datasetSpec(p2)).toEqual(datasetSpec(p1));
    const a = await loadDataset(datasetSpec(p1));
    const b = await loadDataset(datasetSpec({ ...p1, dataSeed: 1 }));
    expect(a.description.valCounts).toEqual(new Array(10).fill(4));
    expect(await b.val.load(0, () => 0.5, false)).not.toEqual(await a.val.load(0, () => 0.5, false));
  });
});
