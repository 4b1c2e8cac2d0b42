import { createStudy, RandomSampler, Rng, type Study } from '../src';

async function drawSequence(seed: number, n: number): Promise<Record<string, unknown>[]> {
  const study = await createStudy({ sampler: new RandomSampler(seed) });
  await study.optimize(async (t) => {
    await t.suggestFloat('x', -3, 3);
    await t.suggestFloat('lr', 1e-5, 1e-1, { log: true });
    await t.suggestFloat('q', 0, 1, { step: 0.25 });
    await t.suggestInt('k', 2, 12, { step: 2 });
    await t.suggestInt('units', 1, 1024, { log: true });
    await t.suggestCategorical('act', ['relu', 'tanh', 'gelu']);
    return 0;
  }, { nTrials: n });
  return (await study.getTrials()).map((t) => t.params);
}

describe('Rng', () => {
  it('is reproducible, seed-sensitive, and uniform-ish in [0,1)', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 1000 }, () => a.random());
    const xb = Array.from({ length: 1000 }, () => b.random());
    const xc = Array.from({ length: 1000 }, () => c.random());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    expect(Math.min(...xa)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xa)).toBeLessThan(1);
    const mean = xa.reduce((s, x) => s + x, 0) / xa.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05); // sd of the mean is 0.009
  });

  it('normal() has mean 0 and variance 1 (20k draws)', () => {
    const r = new Rng(7);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const m = xs.reduce((s, x) => s + x, 0) / xs.length;
    const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
  });
});

describe('RandomSampler', () => {
  it('the same seed gives the same sequence; another seed does not', async () => {
    expect(await drawSequence(5, 15)).toEqual(await drawSequence(5, 15));
    expect(await drawSequence(5, 15)).not.toEqual(await drawSequence(6, 15));
  });

  it('stays in bounds and respects log, step, int and categorical', async () => {
    const ps = await drawSequence(1, 300);
    const lrs: number[] = [];
    for (const p of ps) {
      const x = p.x as number;
      expect(x).toBeGreaterThanOrEqual(-3);
      expect(x).toBeLessThanOrEqual(3);
      const lr = p.lr as number;
      expect(lr).toBeGreaterThanOrEqual(1e-5);
      expect(lr).toBeLessThanOrEqual(1e-1);
      lrs.push(lr);
      expect([0, 0.25, 0.5, 0.75, 1]).toContain(p.q);
      expect([2, 4, 6, 8, 10, 12]).toContain(p.k);
      expect(Number.isInteger(p.units)).toBe(true);
      expect(p.units as number).toBeGreaterThanOrEqual(1);
      expect(p.units as number).toBeLessThanOrEqual(1024);
      expect(['relu', 'tanh', 'gelu']).toContain(p.act);
    }
    // Log-uniform: about half the draws fall below the geometric midpoint 1e-3 (uniform would put ~1% there).
    const below = lrs.filter((v) => v < 1e-3).length / lrs.length;
    expect(below).toBeGreaterThan(0.4);
    expect(below).toBeLessThan(0.6);
    // Every grid point, the ends included, is reached.
    expect(new Set(ps.map((p) => p.q)).size).toBe(5);
    expect(new Set(ps.map((p) => p.k)).size).toBe(6);
    expect(new Set(ps.map((p) => p.act)).size).toBe(3);
  });

  it('a single-valued range returns its only value without drawing', async () => {
    const study: Study = await createStudy({ sampler: new RandomSampler(3) });
    const t = await study.ask();
    expect(await t.suggestFloat('a', 2, 2)).toBe(2);
    expect(await t.suggestCategorical('b', ['only'])).toBe('only');
  });
});
