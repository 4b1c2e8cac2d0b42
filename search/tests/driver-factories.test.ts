import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createStudy,
  GridSampler,
  HyperbandPruner,
  InMemoryStorage,
  JournalStorage,
  makePruner,
  makeSampler,
  MedianPruner,
  NopPruner,
  NSGAIISampler,
  openStorage,
  PercentilePruner,
  PostgresStorage,
  QMCSampler,
  RandomSampler,
  SuccessiveHalvingPruner,
  TPESampler,
  type Sampler,
} from '../src';

/** The first `n` points a sampler proposes for x in [0, 1] (one objective, minimised). */
async function points(sampler: Sampler, n: number): Promise<unknown[]> {
  const study = await createStudy({ sampler });
  await study.optimize(async (t) => t.suggestFloat('x', 0, 1), { nTrials: n });
  return (await study.getTrials()).map((t) => t.params.x);
}

describe('driver factories', () => {
  it('builds each sampler by name, with the seed it is given', async () => {
    const kinds: [string, new (...a: never[]) => Sampler][] = [
      ['random', RandomSampler], ['tpe', TPESampler], ['motpe', TPESampler], ['sobol', QMCSampler], ['qmc', QMCSampler], ['nsga2', NSGAIISampler],
    ];
    for (const [name, C] of kinds) expect(makeSampler(name, 3, {})).toBeInstanceOf(C);
    expect(await points(makeSampler('random', 7, {}), 3)).toEqual(await points(new RandomSampler(7), 3));
    expect(await points(makeSampler('tpe', 7, { nStartupTrials: 2 }), 4)).toEqual(await points(new TPESampler({ seed: 7, nStartupTrials: 2 }), 4));
    expect(await points(makeSampler('random', 7, {}), 3)).not.toEqual(await points(new RandomSampler(8), 3));
  });

  it('gives the grid sampler its searchSpace option and says when it is missing or malformed', async () => {
    const grid = makeSampler('grid', 0, { searchSpace: { x: [0.25, 0.75] } });
    expect(grid).toBeInstanceOf(GridSampler);
    expect((await points(grid, 2)).sort()).toEqual([0.25, 0.75]);
    expect(() => makeSampler('grid', 0, {})).toThrow('--sampler grid: expected the option searchSpace {name: [values]}, got undefined');
    expect(() => makeSampler('grid', 0, { searchSpace: { x: 3 } })).toThrow('--sampler grid: searchSpace.x must be a list of values, got 3');
  });

  it('builds each pruner by name with its options', () => {
    const kinds: [string, new (...a: never[]) => unknown][] = [
      ['nop', NopPruner], ['none', NopPruner], ['median', MedianPruner], ['sha', SuccessiveHalvingPruner], ['hyperband', HyperbandPruner],
    ];
    for (const [name, C] of kinds) expect(makePruner(name, {})).toBeInstanceOf(C);
    expect(makePruner('percentile', { percentile: 25 })).toBeInstanceOf(PercentilePruner);
    expect(() => makePruner('percentile', {})).toThrow('--pruner percentile: expected the option percentile=N (0 to 100), got undefined');
    expect(() => makePruner('percentile', { percentile: 120 })).toThrow('PercentilePruner: percentile must be in [0, 100], got 120');
    expect(() => makePruner('median', { nStartupTrials: -1 })).toThrow(/nStartupTrials must be >= 0/);
  });

  it('names the choices when a sampler or pruner is unknown (and no inherited property passes for one)', () => {
    expect(() => makeSampler('cmaes', 0, {})).toThrow('--sampler: got "cmaes", expected one of random, tpe, motpe, grid, sobol, qmc, nsga2');
    expect(() => makeSampler('toString', 0, {})).toThrow('--sampler: got "toString"');
    expect(() => makePruner('patient', {})).toThrow('--pruner: got "patient", expected one of nop, none, median, percentile, sha, hyperband');
  });

  it('opens a storage by the form of its spec', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'factories-'));
    try {
      expect(openStorage('memory')).toBeInstanceOf(InMemoryStorage);
      expect(openStorage(`journal:${dir}/a.txt`)).toBeInstanceOf(JournalStorage);
      expect(openStorage(`${dir}/b.journal`)).toBeInstanceOf(JournalStorage);
      expect(fs.readdirSync(dir).sort()).toEqual(['a.txt', 'b.journal']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (const url of ['postgresql://nobody@127.0.0.1:1/none', 'postgres://nobody@127.0.0.1:1/none']) {
      const pg = openStorage(url); // no connection until the first query
      expect(pg).toBeInstanceOf(PostgresStorage);
      await pg.close();
    }
    expect(() => openStorage('sqlite:///x.db')).toThrow('--storage: got "sqlite:///x.db", expected journal:PATH, postgresql://USER@HOST:PORT/DB or memory');
  });
});
