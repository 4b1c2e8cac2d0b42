import { loadDataset, syntheticDataset } from '../src/data';

describe('synthetic long-tailed data set', () => {
  const small = { kind: 'synthetic' as const, maxPerClass: 60, testPerClass: 5, imbalanceFactor: 10, seed: 4 };

  test('follows the exponential profile, balanced test, groups and digest in the description', async () => {
    const d = await loadDataset(small);
    // floor(60 * 10^(-i/9)) from python's math: 60, 46.4, 35.9, 27.8, 21.5, 16.7, 12.9, 10.008, 7.7, 6
    expect(d.description.trainCounts).toEqual([60, 46, 35, 27, 21, 16, 12, 10, 7, 6]);
    expect(d.description.testCounts).toEqual(new Array(10).fill(5));
    expect(d.description.groups).toEqual({ many: [], medium: [0, 1, 2, 3, 4], few: [5, 6, 7, 8, 9] });
    expect(d.description.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(d.inputShape).toEqual([32, 32, 3]);
    expect(d.train.size).toBe(240);
    expect(d.description.classNames[0]).toBe('disk-solid');
    expect(d.description.classNames[5]).toBe('disk-stripes');
  });

  test('same seed gives the same bytes and digest; another seed differs', async () => {
    const a = await loadDataset(small);
    const b = await loadDataset(small);
    const c = await loadDataset({ ...small, seed: 5 });
    expect(a.description.digest).toBe(b.description.digest);
    expect(c.description.digest).not.toBe(a.description.digest);
    const xa = await a.train.load(3, () => 0.5, false);
    const xb = await b.train.load(3, () => 0.5, false);
    const xc = await c.train.load(3, () => 0.5, false);
    expect(Buffer.from(xa.buffer).equals(Buffer.from(xb.buffer))).toBe(true);
    expect(Buffer.from(xa.buffer).equals(Buffer.from(xc.buffer))).toBe(false);
  });

  test('images of a class vary (nuisance) and normalised training pixels have mean ~0, std ~1', () => {
    const d = syntheticDataset({ maxPerClass: 50, imbalanceFactor: 1, testPerClass: 1 });
    const px = (d.train as unknown as { raw(i: number): Uint8Array }).raw;
    const a = px.call(d.train, 0);
    const b = px.call(d.train, 1);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff += Math.abs(a[i] - b[i]);
    expect(diff / a.length).toBeGreaterThan(10);
    let s = 0;
    let s2 = 0;
    let n = 0;
    return (async () => {
      for (let i = 0; i < d.train.size; i++) {
        const x = await d.train.load(i, () => 0, false);
        for (let k = 0; k < x.length; k += 3) {
          s += x[k];
          s2 += x[k] * x[k];
          n++;
        }
      }
      expect(Math.abs(s / n)).toBeLessThan(1e-3);
      expect(Math.abs(s2 / n - 1)).toBeLessThan(1e-3);
    })();
  });

  test('training augmentation changes the image; evaluation path does not', async () => {
    const d = syntheticDataset({ maxPerClass: 4, imbalanceFactor: 1, testPerClass: 1 });
    const e1 = await d.test.load(0, Math.random, false);
    const e2 = await d.test.load(0, Math.random, false);
    expect(Buffer.from(e1.buffer).equals(Buffer.from(e2.buffer))).toBe(true);
    let seed = 1;
    const rng = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const t1 = await d.test.load(0, rng, true);
    expect(Buffer.from(t1.buffer).equals(Buffer.from(e1.buffer))).toBe(false);
  });

  test('bad options name the field and the expectation', async () => {
    await expect(loadDataset({ kind: 'synthetic', numClasses: 99 })).rejects.toThrow(/numClasses = 99: expected an integer in \[2, 20\]/);
    await expect(loadDataset({ kind: 'synthetic', imbalanceFactor: 0.5 })).rejects.toThrow(/imbalanceFactor = 0.5/);
  });
});
