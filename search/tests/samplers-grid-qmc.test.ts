import { createStudy, GridSampler, NopPruner, QMCSampler, Rng, SobolSequence, TPESampler, TrialState } from '../src';
import { runPython } from './samplers-python';

describe('GridSampler', () => {
  it('visits every grid point exactly once, then stops optimize()', async () => {
    const study = await createStudy({ sampler: new GridSampler({ x: [1, 2, 3], opt: ['a', 'b'] }, 4), pruner: new NopPruner() });
    await study.optimize(async (t) => (await t.suggestInt('x', 0, 10)) + ((await t.suggestCategorical('opt', ['a', 'b', 'c'])) === 'a' ? 0 : 10), { nTrials: 100 });
    const trials = await study.getTrials();
    expect(trials).toHaveLength(6);
    const seen = trials.map((t) => `${t.params.x}${t.params.opt}`).sort();
    expect(seen).toEqual(['1a', '1b', '2a', '2b', '3a', '3b']);
    expect(await study.bestValue()).toBe(1);
  });

  it('the order is seeded and reproducible', async () => {
    const order = async (seed: number) => {
      const s = await createStudy({ sampler: new GridSampler({ x: [0, 1, 2, 3, 4] }, seed) });
      await s.optimize(async (t) => t.suggestFloat('x', 0, 4), { nTrials: 5 });
      return (await s.getTrials()).map((t) => t.params.x);
    };
    expect(await order(1)).toEqual(await order(1));
    const others = await Promise.all([2, 3, 4].map(order));
    expect(others.some((o) => JSON.stringify(o) !== JSON.stringify(others[0]))).toBe(true);
  });

  it('concurrent trials take distinct points', async () => {
    const study = await createStudy({ sampler: new GridSampler({ x: [0, 1, 2, 3] }, 0) });
    const ts = [await study.ask(), await study.ask(), await study.ask(), await study.ask()];
    const xs = await Promise.all(ts.map((t) => t.suggestFloat('x', 0, 3)));
    expect([...xs].sort()).toEqual([0, 1, 2, 3]);
  });

  it('clear errors for a parameter outside the grid or a value outside the range', async () => {
    const study = await createStudy({ sampler: new GridSampler({ x: [5] }) });
    const t = await study.ask();
    await expect(t.suggestFloat('y', 0, 1)).rejects.toThrow('GridSampler: the objective asked for "y", which is not in the grid (x)');
    await expect(t.suggestFloat('x', 0, 1)).rejects.toThrow('GridSampler: grid value 5 of "x" is outside the suggested range [0, 1]');
    expect(() => new GridSampler({ x: [] })).toThrow('parameter "x" needs a non-empty list');
  });
});

describe('Sobol sequence', () => {
  it('unscrambled points equal scipy.stats.qmc.Sobol (Joe–Kuo numbers, Gray-code order), 12 dims x 256 points', () => {
    const n = 256;
    const d = 12;
    const s = new SobolSequence(d, null);
    const ours = Array.from({ length: n }, (_, i) => s.point(i));
    const ref = runPython<number[][]>(
      'import json,sys\nfrom scipy.stats import qmc\nd=json.load(sys.stdin)\nprint(json.dumps(qmc.Sobol(d["d"],scramble=False).random(d["n"]).tolist()))',
      { d, n },
    );
    expect(ours).toEqual(ref);
  });

  it('scrambled: seeded, reproducible, and every prefix of 2^k points stays stratified (one per 1/2^k cell in each dim)', () => {
    const a = new SobolSequence(6, new Rng(3));
    const b = new SobolSequence(6, new Rng(3));
    const c = new SobolSequence(6, new Rng(4));
    expect(a.point(17)).toEqual(b.point(17));
    expect(a.point(17)).not.toEqual(c.point(17));
    for (const k of [3, 5, 7]) {
      const n = 2 ** k;
      for (let dim = 0; dim < 6; dim++) {
        const cells = new Set(Array.from({ length: n }, (_, i) => Math.floor(a.point(i)[dim] * n)));
        expect(cells.size).toBe(n);
      }
    }
    // Pairs of dimensions too: 64 points hit each of the 8x8 cells once (a (0,m,2)-net property).
    const cells = new Set(Array.from({ length: 64 }, (_, i) => {
      const p = a.point(i);
      return `${Math.floor(p[0] * 8)},${Math.floor(p[1] * 8)}`;
    }));
    expect(cells.size).toBe(64);
  });

  it('rejects more dimensions than the table holds', () => {
    expect(() => new SobolSequence(1000, null)).toThrow('dimensions must be an integer in [1, 128], got 1000');
  });
});

describe('QMCSampler', () => {
  const objective = async (t: import('../src').Trial) => {
    const x = await t.suggestFloat('x', -1, 1);
    const lr = await t.suggestFloat('lr', 1e-4, 1, { log: true });
    const k = await t.suggestInt('k', 1, 8);
    const c = await t.suggestCategorical('c', ['a', 'b']);
    return x * x + Math.abs(Math.log10(lr) + 2) + k + (c === 'a' ? 0 : 1);
  };

  it('after the first trial, draws stratified points in every parameter, reproducibly', async () => {
    const run = async (seed: number) => {
      const s = await createStudy({ sampler: new QMCSampler({ seed }), pruner: new NopPruner() });
      await s.optimize(objective, { nTrials: 33 });
      return (await s.getTrials()).map((t) => t.params);
    };
    const a = await run(5);
    expect(await run(5)).toEqual(a);
    expect(await run(6)).not.toEqual(a);
    // Trials 1..32: in Gray-code order, points 0..31 are a full net, 1..32 differ from it by one point.
    const xs = a.slice(1, 33).map((p) => p.x as number);
    const halves = [xs.filter((x) => x < 0).length, xs.filter((x) => x >= 0).length];
    expect(Math.abs(halves[0] - halves[1])).toBeLessThanOrEqual(2);
    const lrDecades = new Set(a.slice(1).map((p) => Math.floor(Math.log10(p.lr as number))));
    expect(lrDecades).toEqual(new Set([-4, -3, -2, -1]));
    expect(new Set(a.slice(1).map((p) => p.k))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8]));
    for (const p of a) {
      expect(p.x as number).toBeGreaterThanOrEqual(-1);
      expect(p.x as number).toBeLessThanOrEqual(1);
    }
  });

  it('serves as TPE start-up: the first nStartupTrials use Sobol points, later ones TPE', async () => {
    const tpe = new TPESampler({ seed: 1, nStartupTrials: 9, startupSampler: new QMCSampler({ seed: 1 }) });
    const s1 = await createStudy({ sampler: tpe, pruner: new NopPruner() });
    await s1.optimize(objective, { nTrials: 15 });
    const s2 = await createStudy({ sampler: new QMCSampler({ seed: 1 }), pruner: new NopPruner() });
    await s2.optimize(objective, { nTrials: 9 });
    const p1 = (await s1.getTrials()).map((t) => t.params);
    const p2 = (await s2.getTrials()).map((t) => t.params);
    expect(p1.slice(0, 9)).toEqual(p2);
    expect((await s1.getTrials()).every((t) => t.state === TrialState.COMPLETE)).toBe(true);
  });
});

describe('option-object constructors (for callers that build samplers and pruners from config)', () => {
  it('GridSampler({ searchSpace, seed }) equals GridSampler(space, seed)', async () => {
    const order = async (g: GridSampler) => {
      const s = await createStudy({ sampler: g });
      await s.optimize(async (t) => t.suggestInt('x', 0, 9), { nTrials: 10 });
      return (await s.getTrials()).map((t) => t.params.x);
    };
    const space = { x: [0, 1, 2, 3, 4, 5] };
    expect(await order(new GridSampler({ searchSpace: space, seed: 3 }))).toEqual(await order(new GridSampler(space, 3)));
  });
});
