import { loadDataset, makeLoader, type Batch, type ImageDataset } from '../src/data';
import { makeSampler } from '../src/samplers';
import { silentLogger } from '@iccl/trainer-api';

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('makeLoader on the synthetic set', () => {
  const spec = { kind: 'synthetic' as const, maxPerClass: 40, testPerClass: 4, imbalanceFactor: 10, seed: 2 };

  test('batches follow the sampler order with labels; same seed gives the same batches', async () => {
    const d = await loadDataset(spec);
    const s = makeSampler('instance', d.train.labels, 10, { seed: 5 });
    const order = s.indices(0);
    const a = await collect(makeLoader(d.train, s, { batchSize: 16, epoch: 0, train: true, seed: 9 }));
    const b = await collect(makeLoader(d.train, s, { batchSize: 16, epoch: 0, train: true, seed: 9 }));
    expect(a.length).toBe(Math.ceil(d.train.size / 16));
    expect(a.reduce((n, x) => n + x.n, 0)).toBe(d.train.size);
    expect([...a.flatMap((x) => [...x.indices])]).toEqual([...order]);
    a.forEach((x, k) => {
      expect(x.shape).toEqual([32, 32, 3]);
      expect(x.x.length).toBe(x.n * 32 * 32 * 3);
      expect([...x.y]).toEqual([...x.indices].map((i) => d.train.labels[i]));
      expect(Buffer.from(x.x.buffer).equals(Buffer.from(b[k].x.buffer))).toBe(true);
    });
    const c = await collect(makeLoader(d.train, s, { batchSize: 16, epoch: 0, train: true, seed: 10 }));
    expect(Buffer.from(c[0].x.buffer).equals(Buffer.from(a[0].x.buffer))).toBe(false);
  });

  test('dropLast drops the short final batch', async () => {
    const d = await loadDataset(spec);
    const s = makeSampler('instance', d.train.labels, 10, { seed: 5 });
    const a = await collect(makeLoader(d.train, s, { batchSize: 16, epoch: 0, train: false, seed: 0, dropLast: true }));
    expect(a.length).toBe(Math.floor(d.train.size / 16));
    expect(a.every((b) => b.n === 16)).toBe(true);
  });

  test('worker threads (running TypeScript) give exactly the main-thread batches', async () => {
    const d = await loadDataset(spec);
    const s = makeSampler('class-aware', d.train.labels, 10, { seed: 5, samplerRatio: 0.5 });
    const main = await collect(makeLoader(d.train, s, { batchSize: 32, epoch: 1, train: true, seed: 3 }));
    const work = await collect(makeLoader(d.train, s, { batchSize: 32, epoch: 1, train: true, seed: 3, workers: 2, prefetch: 1 }));
    expect(work.length).toBe(main.length);
    work.forEach((b, k) => {
      expect([...b.indices]).toEqual([...main[k].indices]);
      expect(Buffer.from(b.x.buffer).equals(Buffer.from(main[k].x.buffer))).toBe(true);
    });
  }, 30000);

  test('an AbortSignal stops the stream with an AbortError', async () => {
    const d = await loadDataset(spec);
    const s = makeSampler('instance', d.train.labels, 10, { seed: 5 });
    const ctl = new AbortController();
    const seen: number[] = [];
    const run = async () => {
      for await (const b of makeLoader(d.train, s, { batchSize: 8, epoch: 0, train: true, seed: 0, signal: ctl.signal, workers: 1, log: silentLogger })) {
        seen.push(b.n);
        if (seen.length === 2) ctl.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen.length).toBe(2);
  }, 30000);

  test('bad options are rejected with the field named', async () => {
    const d = await loadDataset(spec);
    const s = makeSampler('instance', d.train.labels, 10, { seed: 5 });
    expect(() => makeLoader(d.train, s, { batchSize: 0, epoch: 0, train: true, seed: 0 })).toThrow(/batchSize = 0/);
    expect(() => makeLoader(d.train, s, { batchSize: 4, epoch: 0, train: true, seed: 0, workers: -1 })).toThrow(/workers = -1/);
  });
});

describe('makeLoader memory bound', () => {
  /** A data set whose loads resolve only when released, so the test sees how many the loader starts. */
  function gated(n: number): ImageDataset & { inFlight: number; maxInFlight: number } {
    const ds = {
      size: n,
      numClasses: 2,
      labels: Int32Array.from({ length: n }, (_, i) => i % 2),
      shape: [2, 2, 3] as [number, number, number],
      inFlight: 0,
      maxInFlight: 0,
      itemId: (i: number) => `item${i}`,
      load(_i: number): Promise<Float32Array> {
        ds.inFlight++;
        ds.maxInFlight = Math.max(ds.maxInFlight, ds.inFlight);
        return new Promise((resolve) =>
          setTimeout(() => {
            ds.inFlight--;
            resolve(new Float32Array(12));
          }, 2),
        );
      },
    };
    return ds;
  }

  test.each([0, 1, 3])('at most (prefetch + 1) batches are being loaded (prefetch %i)', async (prefetch) => {
    const ds = gated(200);
    const s = makeSampler('instance', ds.labels, 2, { seed: 0 });
    let batches = 0;
    for await (const b of makeLoader(ds, s, { batchSize: 8, epoch: 0, train: false, seed: 0, prefetch })) {
      batches++;
      expect(b.n).toBe(8);
      await new Promise((r) => setTimeout(r, 5)); // a slow consumer: the loader must not run ahead unboundedly
    }
    expect(batches).toBe(25);
    expect(ds.maxInFlight).toBeLessThanOrEqual((prefetch + 1) * 8);
    expect(ds.maxInFlight).toBeGreaterThanOrEqual(8);
  });
});
