import { mkdirSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadDataset, makeLoader } from '../src/data';
import { prepareStoreFor } from '../src/data/prepare-store';
import { readShardTable, ROW, ShardReader, writeShard } from '../src/data/shard-file';
import { StoreDataset } from '../src/data/store-dataset';
import { makeSampler } from '../src/samplers';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lt-shard-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Records of different sizes whose bytes say which record they are. */
function records(n: number) {
  return Array.from({ length: n }, (_, k) => {
    const payload = Buffer.alloc(1000 + ((k * 7919) % 5000));
    for (let i = 0; i < payload.length; i++) payload[i] = (k * 31 + i) & 255;
    return { payload, width: k, height: 1, label: k % 3 };
  });
}

describe('shard reader with reused buffers', () => {
  test('concurrent reads of records of different sizes each see their own bytes, pass after pass', async () => {
    const f = join(work, 'a.shard');
    const recs = records(24);
    await writeShard(f, recs, 'ab');
    const t = await readShardTable(f, 'rebuild');
    const reader = new ShardReader([f], 'rebuild');
    for (let pass = 0; pass < 3; pass++) {
      const order = Array.from({ length: recs.length }, (_, k) => (k * 5 + pass) % recs.length);
      const seen = await Promise.all(
        order.map((k) =>
          reader.withRecord(0, k, t.rows[k * ROW], t.rows[k * ROW + 1], t.rows[k * ROW + 5], async (b) => {
            await new Promise((r) => setImmediate(r)); // other reads complete while this buffer is in use
            return b.equals(recs[k].payload);
          }),
        ),
      );
      expect(seen).toEqual(order.map(() => true));
    }
    reader.close();
  });

  test('a shard truncated after its table was read: one error naming the file and the record', async () => {
    const f = join(work, 'b.shard');
    const recs = records(6);
    await writeShard(f, recs, 'cd');
    const t = await readShardTable(f, 'rebuild it');
    truncateSync(f, t.rows[3 * ROW] + 10);
    const reader = new ShardReader([f], 'rebuild it');
    const use = jest.fn();
    await expect(reader.withRecord(0, 3, t.rows[3 * ROW], t.rows[3 * ROW + 1], t.rows[3 * ROW + 5], use)).rejects.toThrow(
      `${f}: corrupt prepared shard (record 3: 10 of ${recs[3].payload.length} bytes, truncated): rebuild it`,
    );
    expect(use).not.toHaveBeenCalled();
    // a record before the cut still reads, from a buffer the failed read gave back
    await expect(reader.withRecord(0, 1, t.rows[ROW], t.rows[ROW + 1], t.rows[ROW + 5], (b) => b.equals(recs[1].payload))).resolves.toBe(true);
    reader.close();
  });

  test('a missing shard file is one error naming it', async () => {
    const f = join(work, 'gone.shard');
    const reader = new ShardReader([f], 'rebuild it');
    await expect(reader.withRecord(0, 0, 8, 10, 0, () => 1)).rejects.toThrow(f);
  });
});

describe('raw store through the loader', () => {
  test('decode workers (no TensorFlow for raw records) give the floats of the main thread; labels are the originals', async () => {
    const data = join(work, 'folder');
    for (const [c, cls] of ['ant', 'bee'].entries()) {
      for (const split of ['train', 'test']) {
        mkdirSync(join(data, split, cls), { recursive: true });
        for (let k = 0; k < 5; k++) {
          const px = Buffer.alloc(64 * 48 * 3);
          for (let i = 0; i < px.length; i++) px[i] = (i * (k + 2) + c * 90) & 255;
          await sharp(px, { raw: { width: 64, height: 48, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(data, split, cls, `${k}.jpg`));
        }
      }
    }
    const spec = { kind: 'image-folder' as const, dataDir: data, cacheDir: join(work, 'cache'), transform: { style: 'imagenet' as const, size: 24, evalResize: 32 } };
    const built = await prepareStoreFor(spec, { params: { side: 32, format: 'raw' } });
    expect(statSync(join(built.dir, 'manifest.json')).size).toBeGreaterThan(0);
    const d = await loadDataset({ ...spec, prepared: { side: 32, format: 'raw' } });
    const orig = await loadDataset({ ...spec, prepared: false });
    expect(d.train).toBeInstanceOf(StoreDataset);
    const sampler = makeSampler('instance', d.train.labels, d.train.numClasses, { seed: 1 });
    const run = async (workers: number, train: boolean) => {
      const xs: number[][] = [];
      const ys: number[] = [];
      for await (const b of makeLoader(d.train, sampler, { batchSize: 4, epoch: 0, train, seed: 5, workers, strict: true })) {
        xs.push(Array.from(b.x.subarray(0, b.n * 24 * 24 * 3)));
        ys.push(...b.y);
      }
      return { xs, ys };
    };
    for (const train of [true, false]) {
      const main = await run(0, train);
      const worker = await run(1, train);
      expect(worker.ys).toEqual(main.ys);
      expect(worker.xs).toEqual(main.xs);
    }
    expect(Array.from(d.train.labels)).toEqual(Array.from(orig.train.labels));
  }, 60000);
});
