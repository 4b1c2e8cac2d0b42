import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeInat18Fixture } from '../../../tools/fixtures/inat18-from-cifar';
import { loadDataset, makeLoader, type DataSplit } from '../src/data';
import { readShardTable, ROW } from '../src/data/shard-file';
import { prepareStoreFor } from '../src/data/prepare-store';
import { StoreDataset } from '../src/data/store-dataset';
import { makeSampler } from '../src/samplers';

let work: string;
let data: string;
const spec = () => ({ kind: 'inat18' as const, dataDir: data, cacheDir: join(work, 'cache'), imageSize: 32, thresholds: { many: 20, few: 5 } });
const storeDir = (dir: string) => join(dir, readdirSync(dir)[0]);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lt-store-'));
  data = join(work, 'inat');
  await makeInat18Fixture(data, { nMax: 30, imbalanceFactor: 10, valPerClass: 4 });
}, 120000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function allLabels(d: DataSplit, train: boolean): Promise<number[]> {
  const ds = train ? d.train : d.test;
  const out: number[] = [];
  for await (const b of makeLoader(ds, makeSampler('instance', ds.labels, ds.numClasses, { seed: 0 }), { batchSize: 8, epoch: 0, train, seed: 3, workers: 1 })) out.push(...b.y);
  return out;
}

describe('prepared store', () => {
  test('round-trips ids, labels and both splits; the dataset record tells it from the originals', async () => {
    const r = await prepareStoreFor(spec(), { recordsPerShard: 16 });
    expect(r.built).toBeGreaterThan(2);
    expect(r.failedImages).toBe(0);
    const orig = await loadDataset({ ...spec(), prepared: false });
    const prep = await loadDataset(spec());
    expect(prep.train).toBeInstanceOf(StoreDataset);
    expect(prep.test).toBeInstanceOf(StoreDataset);
    for (const k of ['train', 'test'] as const) {
      expect(Array.from(prep[k].labels)).toEqual(Array.from(orig[k].labels));
      expect(Array.from({ length: prep[k].size }, (_, i) => prep[k].itemId(i))).toEqual(Array.from({ length: orig[k].size }, (_, i) => orig[k].itemId(i)));
    }
    // labels as written into the shards, split by split, in the originals' order
    const m = JSON.parse(readFileSync(join(storeDir(join(work, 'cache', 'prepared')), 'manifest.json'), 'utf8'));
    const stored: number[] = [];
    for (const f of m.splits.train.shards) {
      const t = await readShardTable(join(storeDir(join(work, 'cache', 'prepared')), f), '');
      for (let k = 0; k < t.rows.length / ROW; k++) stored.push(t.rows[k * ROW + 4]);
    }
    expect(stored).toEqual(Array.from(orig.train.labels));
    expect(prep.description.trainCounts).toEqual(orig.description.trainCounts);
    expect(prep.description.digest).not.toBe(orig.description.digest);
    expect(prep.description.name).toBe('inat18@prepared-s256-q90');
    expect(prep.description.prepared).toEqual({ side: 256, format: 'jpeg', quality: 90, from: orig.description.source });
    // the same images come out of the loader (worker thread) in the sampler's order
    expect(await allLabels(prep, true)).toEqual(await allLabels(orig, true));
    // eval pixels: the same 32 px images after a JPEG q90 round trip (normalised units)
    const a = await orig.test.load(0, () => 0.5, false);
    const b = await prep.test.load(0, () => 0.5, false);
    let err = 0;
    for (let i = 0; i < a.length; i++) err += Math.abs(a[i] - b[i]);
    expect(err / a.length).toBeLessThan(0.08);
    expect(err).toBeGreaterThan(0); // re-encoded, not the same file
  }, 120000);

  test('a second run keeps every shard; a deleted shard is the only one written again', async () => {
    const again = await prepareStoreFor(spec(), { recordsPerShard: 16 });
    expect([again.built, again.rebuilt]).toEqual([0, 0]);
    const dir = storeDir(join(work, 'cache', 'prepared'));
    rmSync(join(dir, 'train-00001.shard'));
    const resumed = await prepareStoreFor(spec(), { recordsPerShard: 16 });
    expect([resumed.built, resumed.rebuilt, resumed.kept]).toEqual([1, 0, again.kept - 1]);
  }, 120000);

  test('a truncated shard is one error naming the file; the preparation rewrites it', async () => {
    const dir = storeDir(join(work, 'cache', 'prepared'));
    const f = join(dir, 'train-00002.shard');
    truncateSync(f, statSync(f).size - 100);
    await expect(loadDataset(spec())).rejects.toThrow(`${f}: corrupt prepared shard (no end marker, truncated): rebuild it with the preparation target`);
    const r = await prepareStoreFor(spec(), { recordsPerShard: 16 });
    expect(r.rebuilt).toBe(1);
    expect((await loadDataset(spec())).train).toBeInstanceOf(StoreDataset);
  }, 120000);

  test('a flipped byte in a record stops the loader with one error naming the shard; the preparation rewrites it', async () => {
    const dir = storeDir(join(work, 'cache', 'prepared'));
    const f = join(dir, 'train-00000.shard');
    const t = await readShardTable(f, '');
    const fd = openSync(f, 'r+');
    writeSync(fd, Buffer.from([0x5a ^ readFileSync(f)[t.rows[0] + 40]]), 0, 1, t.rows[0] + 40);
    closeSync(fd);
    const d = await loadDataset(spec());
    await expect(allLabels(d, false).then(() => allLabels(d, true))).rejects.toThrow(`${f}: corrupt prepared shard (record 0 checksum mismatch)`);
    const r = await prepareStoreFor(spec(), { recordsPerShard: 16 });
    expect(r.rebuilt).toBe(1);
    expect((await allLabels(await loadDataset(spec()), true)).length).toBe(d.train.size);
  }, 120000);

  test('shorter side and raw format; a store smaller than the evaluation resize is not used', async () => {
    const cacheDir = join(work, 'small');
    const r = await prepareStoreFor({ ...spec(), cacheDir }, { params: { side: 16, format: 'raw' }, recordsPerShard: 64 });
    const t = await readShardTable(join(r.dir, 'train-00000.shard'), '');
    for (let k = 0; k < t.rows.length / ROW; k++) {
      expect([t.rows[k * ROW + 2], t.rows[k * ROW + 3]]).toEqual([16, 16]);
      expect(t.rows[k * ROW + 1]).toBe(16 * 16 * 3);
    }
    const warn: string[] = [];
    const log = { info: () => undefined, warn: (m: string) => warn.push(m), error: () => undefined, debug: () => undefined };
    const d = await loadDataset({ ...spec(), cacheDir, prepared: { side: 16, format: 'raw' } }, { log });
    expect(d.train).not.toBeInstanceOf(StoreDataset);
    expect(warn.join('\n')).toContain('shorter side 16 < evaluation resize 256');
    const small = await loadDataset({ ...spec(), cacheDir, prepared: { side: 16, format: 'raw' }, transform: { evalResize: 16, size: 16 } });
    expect(small.train).toBeInstanceOf(StoreDataset);
    expect((await small.train.load(0, () => 0.3, true)).length).toBe(16 * 16 * 3);
  }, 120000);
});
