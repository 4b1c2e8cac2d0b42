/**
 * Real loaders on small fixtures built from the shared CIFAR-10 JPEGs (unpacked once into <repo>/.data,
 * git-ignored, reused when present). The shared archive is required: without it these tests fail.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@iccl/trainer-api';
import { loadDataset, makeLoader, prepareCifar10Jpeg, prepareInat18Index, type Batch } from '../src/data';
import { makeSampler } from '../src/samplers';

let cifar = '';
let work = '';
const CLASSES = ['airplane', 'cat', 'ship'];
const TRAIN_N = [6, 3, 1];
const VAL_N = 2;

function jpeg(cls: string, split: 'train' | 'test', k: number): string {
  const dir = join(cifar, split, cls);
  return join(dir, readdirSync(dir).sort()[k]);
}

function recorder(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, error() {}, warn: (m: string) => warnings.push(m) };
}

async function all(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

/** iNaturalist-2018 layout: train_val2018/<supercategory>/<category_id>/<hash>.jpg, JSON and txt lists. */
function makeInat(root: string): void {
  const images: Array<{ id: number; file_name: string; width: number; height: number }> = [];
  const anns: Array<{ id: number; image_id: number; category_id: number }> = [];
  const vimages: typeof images = [];
  const vanns: typeof anns = [];
  const trainTxt: string[] = [];
  const valTxt: string[] = [];
  let id = 100;
  CLASSES.forEach((cls, c) => {
    const catId = 40 + c * 7; // sparse ids: labels must be their sorted positions
    const rel = `train_val2018/${c % 2 ? 'Aves' : 'Plantae'}/${catId}`;
    mkdirSync(join(root, rel), { recursive: true });
    for (let k = 0; k < TRAIN_N[c] + VAL_N; k++) {
      const name = `${rel}/${(c * 1000 + k).toString(16).padStart(8, '0')}.jpg`;
      copyFileSync(jpeg(cls, k < TRAIN_N[c] ? 'train' : 'test', k), join(root, name));
      const isTrain = k < TRAIN_N[c];
      (isTrain ? images : vimages).push({ id, file_name: name, width: 32, height: 32 });
      (isTrain ? anns : vanns).push({ id: id + 5000, image_id: id, category_id: catId });
      (isTrain ? trainTxt : valTxt).push(`${name} ${c}`);
      id++;
    }
  });
  const categories = CLASSES.map((name, c) => ({ id: 40 + c * 7, name, supercategory: c % 2 ? 'Aves' : 'Plantae' })).reverse();
  writeFileSync(join(root, 'train2018.json'), JSON.stringify({ info: {}, images, annotations: anns, categories }));
  writeFileSync(join(root, 'val2018.json'), JSON.stringify({ info: {}, images: vimages, annotations: vanns, categories }));
  writeFileSync(join(root, 'iNaturalist18_train.txt'), trainTxt.join('\n') + '\n');
  writeFileSync(join(root, 'iNaturalist18_val.txt'), valTxt.join('\n') + '\n');
}

beforeAll(async () => {
  cifar = (await prepareCifar10Jpeg()).value;
  work = mkdtempSync(join(tmpdir(), 'lt-formats-'));
}, 120000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('iNaturalist 2018 format', () => {
  test.each(['json', 'txt'] as const)('%s annotations read through the real loader, index cached', async (fmt) => {
    const root = join(work, `inat-${fmt}`);
    makeInat(root);
    const spec = { kind: 'inat18' as const, dataDir: root, inatFormat: fmt, thresholds: { many: 4, few: 2 }, imageSize: 64, valSplit: 0.5 };
    const d = await loadDataset(spec);
    // validation held out of train2018: min(3, floor(0.5 n)) of [6, 3, 1]; the groups stay by the full counts
    expect(d.description.trainCounts).toEqual([3, 2, 1]);
    expect(d.description.valCounts).toEqual([3, 1, 0]);
    expect(d.description.groupCounts).toEqual(TRAIN_N);
    expect(d.description.testCounts).toEqual([VAL_N, VAL_N, VAL_N]);
    expect(d.description.groups).toEqual({ many: [0], medium: [1], few: [2] });
    expect(d.description.classNames).toEqual(fmt === 'json' ? CLASSES : ['0', '1', '2']);
    expect(d.inputShape).toEqual([64, 64, 3]);
    // the first train image is an airplane file copied above
    expect(d.train.itemId(0)).toMatch(/^train_val2018\/Plantae\/40\/.*\.jpg$/);
    const batches = await all(makeLoader(d.test, makeSampler('instance', d.test.labels, 3, { seed: 0 }), { batchSize: 4, epoch: 0, train: false, seed: 0 }));
    expect(batches.reduce((n, b) => n + b.n, 0)).toBe(6);
    expect(batches[0].x.length).toBe(4 * 64 * 64 * 3);
    const again = await prepareInat18Index(root, { format: fmt, cacheDir: join(root, '.cache') });
    expect(again.cached).toBe(true);
    expect((await loadDataset(spec)).description.digest).toBe(d.description.digest);
  });

  test('prepare CLI builds the index once, the second run reads it', () => {
    const root = join(work, 'inat-cli');
    makeInat(root);
    const cli = join(__dirname, '../src/data/prepare-cli.ts');
    const tsx = join(__dirname, '../../../node_modules/.bin/tsx');
    const run = () => execFileSync(tsx, [cli, 'inat18', '--data-dir', root], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    expect(run()).toMatch(/inat18-index-[0-9a-f]{16}\.json\tbuilt\t\d+ ms\t3 classes\t10 train\t6 val/);
    expect(run()).toMatch(/\tcached\t/);
    let err = '';
    try {
      execFileSync(tsx, [cli, 'inat18'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      err = String((e as { stderr: Buffer }).stderr);
    }
    expect(err).toMatch(/prepare: --data-dir: missing/);
  }, 60000);

  test('missing key, unknown category, unannotated image: one line naming file, key and expectation', async () => {
    const root = join(work, 'inat-bad');
    makeInat(root);
    const good = JSON.parse(readFileSync(join(root, 'train2018.json'), 'utf8'));
    const write = (doc: unknown) => writeFileSync(join(root, 'train2018.json'), JSON.stringify(doc));
    const load = () => loadDataset({ kind: 'inat18', dataDir: root, cacheDir: join(root, `.c${Math.random()}`) });
    write({ ...good, annotations: undefined });
    await expect(load()).rejects.toThrow('train2018.json: key "annotations": missing: expected an array');
    write({ ...good, annotations: good.annotations.map((a: { category_id: number }, i: number) => (i === 3 ? { ...a, category_id: 9000 } : a)) });
    await expect(load()).rejects.toThrow('train2018.json: annotations[3].category_id: 9000: expected an id listed in categories');
    write({ ...good, annotations: good.annotations.slice(1) });
    await expect(load()).rejects.toThrow(/train2018\.json: image id 100 \(train_val2018\/Plantae\/40\/[0-9a-f]+\.jpg\): has no annotation: expected one annotation per image/);
    write({ ...good, images: [{ id: 'x' }] });
    await expect(load()).rejects.toThrow('train2018.json: images[0].id: "x": expected an integer');
    writeFileSync(join(root, 'train2018.json'), '{"images": [');
    await expect(load()).rejects.toThrow(/train2018\.json: .*expected a COCO-style JSON object/);
  });

  test('label out of range in a list file names the line', async () => {
    const root = join(work, 'inat-badtxt');
    makeInat(root);
    const lines = readFileSync(join(root, 'iNaturalist18_val.txt'), 'utf8').split('\n');
    lines[1] = lines[1].replace(/ \d+$/, ' 3');
    writeFileSync(join(root, 'iNaturalist18_val.txt'), lines.join('\n'));
    await expect(loadDataset({ kind: 'inat18', dataDir: root, inatFormat: 'txt' })).rejects.toThrow('iNaturalist18_val.txt: line 2: label 3: expected a class in [0, 3)');
    lines[1] = 'just-a-path.jpg';
    writeFileSync(join(root, 'iNaturalist18_val.txt'), lines.join('\n'));
    await expect(loadDataset({ kind: 'inat18', dataDir: root, inatFormat: 'txt' })).rejects.toThrow('iNaturalist18_val.txt: line 2: "just-a-path.jpg": expected "relative/path label"');
  });

  test('a category without training images is a warning and counts as few-shot', async () => {
    const root = join(work, 'inat-empty');
    makeInat(root);
    const doc = JSON.parse(readFileSync(join(root, 'train2018.json'), 'utf8'));
    doc.categories.push({ id: 999, name: 'unseen' });
    writeFileSync(join(root, 'train2018.json'), JSON.stringify(doc));
    const log = recorder();
    const d = await loadDataset({ kind: 'inat18', dataDir: root, valSplit: 0.5 }, { log });
    expect(d.description.groupCounts).toEqual([...TRAIN_N, 0]);
    expect(d.description.groups.few).toContain(3);
    expect(log.warnings.join('\n')).toMatch(/1 class\(es\) have no training images \(first: label 3, "unseen"\)/);
  });
});

describe('ImageNet-LT format, missing and corrupt images', () => {
  function makeImagenet(root: string): void {
    const lines: Record<string, string[]> = { train: [], val: [], test: [] };
    CLASSES.forEach((cls, c) => {
      const wn = `n0${1000000 + c}`;
      for (const split of ['train', 'val'] as const) mkdirSync(join(root, split, wn), { recursive: true });
      for (let k = 0; k < TRAIN_N[c]; k++) {
        const rel = `train/${wn}/${wn}_${k}.JPEG`;
        copyFileSync(jpeg(cls, 'train', k), join(root, rel));
        lines.train.push(`${rel} ${c}`);
      }
      for (let k = 0; k < VAL_N; k++) {
        const rel = `val/${wn}/ILSVRC2012_val_${c}${k}.JPEG`;
        copyFileSync(jpeg(cls, 'test', k), join(root, rel));
        lines.test.push(`${rel} ${c}`);
        lines.val.push(`${rel} ${c}`);
      }
    });
    for (const s of ['train', 'val', 'test']) writeFileSync(join(root, `ImageNet_LT_${s}.txt`), lines[s].join('\n') + '\n');
  }

  test('lists + JPEGs through the real loader', async () => {
    const root = join(work, 'inlt');
    makeImagenet(root);
    const d = await loadDataset({ kind: 'imagenet-lt', dataDir: root, thresholds: { many: 4, few: 2 }, verifyFiles: true });
    expect(d.description.trainCounts).toEqual(TRAIN_N);
    expect(d.description.testCounts).toEqual([2, 2, 2]);
    expect(d.inputShape).toEqual([224, 224, 3]);
    const s = makeSampler('class-balanced', d.train.labels, 3, { seed: 1 });
    const b = await all(makeLoader(d.train, s, { batchSize: 5, epoch: 0, train: true, seed: 1, workers: 2 }));
    expect(b.map((x) => x.n)).toEqual([5, 5]);
    expect(b[0].x.length).toBe(5 * 224 * 224 * 3);
  }, 60000);

  test('a missing and a corrupt image are skipped with warnings and counted; strict makes them errors', async () => {
    const root = join(work, 'inlt-bad');
    makeImagenet(root);
    const tr = readFileSync(join(root, 'ImageNet_LT_train.txt'), 'utf8').trim().split('\n');
    rmSync(join(root, tr[1].split(' ')[0]));
    const corrupt = join(root, tr[2].split(' ')[0]);
    writeFileSync(corrupt, readFileSync(corrupt).subarray(0, 200)); // truncated JPEG
    const d = await loadDataset({ kind: 'imagenet-lt', dataDir: root, imageSize: 32 });
    const s = makeSampler('instance', d.train.labels, 3, { seed: 0 });
    for (const workers of [0, 2]) {
      const log = recorder();
      const l = makeLoader(d.train, s, { batchSize: 4, epoch: 0, train: true, seed: 0, log, workers });
      const got = await all(l);
      expect(got.reduce((n, x) => n + x.n, 0)).toBe(8);
      expect(l.stats().skipped).toBe(2);
      expect(l.stats().skippedItems.map((x) => x.id).sort()).toEqual([tr[1].split(' ')[0], tr[2].split(' ')[0]].sort());
      expect(log.warnings).toHaveLength(2);
      expect(log.warnings.join('\n')).toMatch(/file not found/);
      const strict = makeLoader(d.train, s, { batchSize: 4, epoch: 0, train: true, seed: 0, strict: true, workers });
      await expect(all(strict)).rejects.toThrow(/image train\/n0100000\d\/.*\.JPEG \(index \d+\): .*(file not found|cannot decode)/);
    }
    await expect(loadDataset({ kind: 'imagenet-lt', dataDir: root, verifyFiles: true })).rejects.toThrow(/ImageNet_LT_train\.txt: image .*n01000000_1\.JPEG: file not found: expected every listed image to exist/);
  }, 60000);
});

describe('image folder and CIFAR-10-LT from the shared JPEGs', () => {
  test('CIFAR-10-LT IF 100: the exponential profile and Many/Medium/Few', async () => {
    const d = await loadDataset({ kind: 'cifar10-lt', dataDir: cifar, imbalanceFactor: 100, seed: 0 });
    // floor(5000 * 0.01^(i/9)), computed separately in Python
    expect(d.description.trainCounts).toEqual([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
    expect(d.description.testCounts).toEqual(new Array(10).fill(1000));
    expect(d.description.groups).toEqual({ many: [0, 1, 2, 3, 4, 5, 6, 7], medium: [8, 9], few: [] });
    expect(d.description.classNames).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(d.description.name).toBe('cifar10-lt');
    expect(d.inputShape).toEqual([32, 32, 3]);
    // every kept image sits in its class's folder
    for (let i = 0; i < d.train.size; i += 97) expect(d.train.itemId(i).startsWith(`train/${d.description.classNames[d.train.labels[i]]}/`)).toBe(true);
    const other = await loadDataset({ kind: 'cifar10-lt', dataDir: cifar, imbalanceFactor: 100, seed: 1 });
    expect(other.description.trainCounts).toEqual(d.description.trainCounts);
    expect(other.description.digest).not.toBe(d.description.digest); // another seed keeps other images
    const x = await d.train.load(0, () => 0.5, true);
    expect(x.length).toBe(32 * 32 * 3);
  }, 60000);

  test('plain image folder (no imbalance) and an empty class folder', async () => {
    const root = join(work, 'folder');
    for (const split of ['train', 'val']) {
      CLASSES.forEach((cls) => {
        mkdirSync(join(root, split, cls), { recursive: true });
        for (let k = 0; k < 3; k++) copyFileSync(jpeg(cls, 'train', k), join(root, split, cls, `${k}.jpg`));
      });
    }
    const d = await loadDataset({ kind: 'image-folder', dataDir: root });
    // val/ serves as the test folder (there is no test/): validation is 1 image per class held out of train/
    expect(d.description.trainCounts).toEqual([2, 2, 2]);
    expect(d.description.valCounts).toEqual([1, 1, 1]);
    expect(d.description.testCounts).toEqual([3, 3, 3]);
    expect(d.inputShape).toEqual([32, 32, 3]); // small images: CIFAR-style transform at their own size
    // two separate root/<class>/<image> trees given as absolute folders
    const abs = await loadDataset({ kind: 'image-folder', dataDir: work, trainDir: join(root, 'train'), testDir: join(root, 'val') });
    expect(abs.description.trainCounts).toEqual([2, 2, 2]);
    await expect(loadDataset({ kind: 'image-folder', dataDir: join(root, 'train') })).rejects.toThrow(/no train folder: expected dataDir\/train\/<class>\/<image>/);
    mkdirSync(join(root, 'train', 'zebra'));
    await expect(loadDataset({ kind: 'image-folder', dataDir: root })).rejects.toThrow(/train\/zebra: class "zebra" has no images: expected at least one file ending in \.jpg/);
  });
});

describe('CIFAR binary batches and the downloader', () => {
  /** Writes CIFAR-10 style records: label byte + R plane + G plane + B plane; pixel (p) of image r has R=r, G=p%256, B=label. */
  function writeBatches(dir: string, perFile: number, classes: 10 | 100): void {
    mkdirSync(dir, { recursive: true });
    const files = classes === 10 ? ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'] : ['train.bin', 'test.bin'];
    const lb = classes === 10 ? 1 : 2;
    for (const f of files) {
      const buf = Buffer.alloc(perFile * (lb + 3072));
      for (let r = 0; r < perFile; r++) {
        const o = r * (lb + 3072);
        const y = r % classes;
        if (lb === 2) buf[o] = y % 20;
        buf[o + lb - 1] = y;
        for (let p = 0; p < 1024; p++) {
          buf[o + lb + p] = r;
          buf[o + lb + 1024 + p] = p % 256;
          buf[o + lb + 2048 + p] = y;
        }
      }
      writeFileSync(join(dir, f), buf);
    }
  }

  test('CIFAR-10 and CIFAR-100 records are read with labels and CHW -> HWC pixels', async () => {
    const identity = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
    const d10 = join(work, 'c10', 'cifar-10-batches-bin');
    writeBatches(d10, 20, 10);
    const a = await loadDataset({ kind: 'cifar-binary', dataDir: join(work, 'c10'), transform: { normalization: identity } });
    // balanced (IF 1): nothing left out, so 1 of each class's 10 images is held out for validation
    expect(a.train.size + a.val.size).toBe(100);
    expect(a.test.size).toBe(20);
    expect(a.description.trainCounts).toEqual(new Array(10).fill(9));
    expect(a.description.valCounts).toEqual(new Array(10).fill(1));
    // the first training item from file 2 (records 20-39): record r there has R = r, G = pixel % 256, B = label = r % 10
    const i = [...Array(a.train.size).keys()].find((j) => Math.floor(Number(a.train.itemId(j).split(':')[1]) / 20) === 1) as number;
    const r = Number(a.train.itemId(i).split(':')[1]) - 20;
    const x = await a.train.load(i, () => 0, false);
    expect(a.train.labels[i]).toBe(r % 10);
    expect([x[0], x[1], x[2]].map((v) => Math.round(v * 255))).toEqual([r, 0, r % 10]);
    expect([x[5 * 3], x[5 * 3 + 1], x[5 * 3 + 2]].map((v) => Math.round(v * 255))).toEqual([r, 5, r % 10]);
    const d100 = join(work, 'c100');
    writeBatches(d100, 300, 100);
    const lt = await loadDataset({ kind: 'cifar100-lt', dataDir: d100, imbalanceFactor: 3 });
    // n_max = 3 images per class in the source; floor(3 * (1/3)^(i/99)) keeps 3 for class 0 and 1 for class 99
    expect(lt.description.trainCounts[0]).toBe(3);
    expect(lt.description.trainCounts[99]).toBe(1);
    expect(lt.description.testCounts).toEqual(new Array(100).fill(3));
  });

  test('bad size and bad label are named; unreachable host gives one clear line', async () => {
    const d = join(work, 'c10bad');
    writeBatches(d, 2, 10);
    writeFileSync(join(d, 'data_batch_3.bin'), Buffer.alloc(3072));
    await expect(loadDataset({ kind: 'cifar-binary', dataDir: d })).rejects.toThrow('data_batch_3.bin: size: 3072 bytes: expected a positive multiple of 3073 (1 label byte(s) + 3072 pixels per record)');
    writeBatches(d, 2, 10);
    const b = readFileSync(join(d, 'data_batch_2.bin'));
    b[3073] = 12;
    writeFileSync(join(d, 'data_batch_2.bin'), b);
    await expect(loadDataset({ kind: 'cifar-binary', dataDir: d })).rejects.toThrow('data_batch_2.bin: record 1: label 12: expected a class in [0, 10)');
    const { downloadCifar } = await import('../src/data/download');
    await expect(downloadCifar(10, join(work, 'dl'), { url: 'http://127.0.0.1:59997/cifar-10-binary.tar.gz', timeoutMs: 5000 })).rejects.toThrow(
      /^cannot download CIFAR-10: 127\.0\.0\.1:59997 cannot be reached \(ECONNREFUSED\); place the official cifar-10-batches-bin folder under .*dl/,
    );
  });
});
