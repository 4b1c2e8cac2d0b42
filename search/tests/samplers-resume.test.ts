// Deterministic sampling: a trial's draws come from the sampler's seed and the trial's place among
// the study's sampled trials, so a study killed and resumed (by a new process, with a new sampler
// object) proposes the points of one that never stopped, and two workers never draw alike.
import { FIXED_PARAMS_ATTR, GridSampler, InMemoryStorage, QMCSampler, RandomSampler, TPESampler, TrialState, createStudy, loadStudy, type Sampler, type Study, type Trial } from '../src';
import { ATTR } from '../src/driver/attrs';

const objective = async (t: Trial): Promise<number> => {
  const x = await t.suggestFloat('x', -4, 4);
  const lr = await t.suggestFloat('lr', 1e-4, 1, { log: true });
  const c = await t.suggestCategorical('c', ['a', 'b', 'c']);
  return (x - 1) ** 2 + Math.log10(lr) ** 2 / 10 + (c === 'b' ? 0 : 1);
};
const gridObjective = async (t: Trial): Promise<number> => {
  const x = await t.suggestFloat('x', -4, 4);
  const c = await t.suggestCategorical('c', ['a', 'b', 'c']);
  return x * x + (c === 'b' ? 0 : 1);
};

const SAMPLERS: [string, (seed: number) => Sampler, typeof objective][] = [
  ['random', (seed) => new RandomSampler(seed), objective],
  ['sobol', (seed) => new QMCSampler({ seed }), objective],
  ['grid', (seed) => new GridSampler({ x: [-2, -1, 0, 1, 2], c: ['a', 'b', 'c'] }, seed), gridObjective],
  ['TPE start-up', (seed) => new TPESampler({ seed, nStartupTrials: 20 }), objective],
];

async function runOne(study: Study, f: typeof objective): Promise<void> {
  const t = await study.ask();
  await study.tell(t, await f(t));
}

/** Params of the trials that drew them (not retries), in number order. */
async function sampled(study: Study): Promise<Record<string, unknown>[]> {
  return (await study.getTrials()).filter((t) => t.systemAttrs[FIXED_PARAMS_ATTR] === undefined).map((t) => t.params);
}

async function uninterrupted(make: () => Sampler, f: typeof objective, n: number): Promise<Record<string, unknown>[]> {
  const study = await createStudy({ sampler: make() });
  for (let i = 0; i < n; i++) await runOne(study, f);
  return sampled(study);
}

/**
 * `done` trials finish, two more start and their process dies; a new process (new sampler, same
 * seed) fails them, queues their retries as the driver does, and goes on until `n` trials count.
 */
async function killedAndResumed(make: () => Sampler, f: typeof objective, n: number, done: number): Promise<Study> {
  const storage = new InMemoryStorage();
  const first = await createStudy({ storage, studyName: 's', sampler: make() });
  for (let i = 0; i < done; i++) await runOne(first, f);
  for (let i = 0; i < 2; i++) {
    const t = await first.ask();
    await f(t); // drew its parameters, then the process was killed
  }
  const second = await loadStudy({ storage, studyName: 's', sampler: make() });
  for (const t of await second.getTrials({ states: [TrialState.RUNNING] })) {
    await storage.setTrialStateValues(t.trialId, TrialState.FAIL);
    await storage.createNewTrial(second.studyId, { state: TrialState.WAITING, systemAttrs: { [FIXED_PARAMS_ATTR]: t.params, [ATTR.retriedFrom]: t.number } });
  }
  for (;;) {
    const t = await second.tryAsk(() => storage.createTrialWithinLimit(second.studyId, n, ATTR.retriedFrom));
    if (!t) break;
    await second.tell(t, await f(t));
  }
  return second;
}

describe.each(SAMPLERS)('%s sampler, killed mid-trial and resumed', (_name, bySeed, f) => {
  const make = () => bySeed(11);
  it('proposes the points of an uninterrupted study; the retries repeat the lost points', async () => {
    const n = 12;
    const want = await uninterrupted(make, f, n);
    const study = await killedAndResumed(make, f, n, 4);
    expect(await sampled(study)).toEqual(want);
    const trials = await study.getTrials();
    expect(trials.length).toBe(n + 2);
    const retries = trials.filter((t) => t.systemAttrs[ATTR.retriedFrom] !== undefined);
    expect(retries.map((t) => t.params)).toEqual([want[4], want[5]]);
    expect(retries.every((t) => t.state === TrialState.COMPLETE)).toBe(true);
    // A seed gives its own points: another one does not repeat them.
    expect(want.slice(1)).not.toEqual((await uninterrupted(() => bySeed(12), f, n)).slice(1));
  });
});

describe('TPE after start-up', () => {
  it('given the same history, a new process proposes what the uninterrupted one did', async () => {
    for (const multivariate of [false, true]) {
      const m = () => new TPESampler({ seed: 5, nStartupTrials: 6, multivariate });
      const want = await uninterrupted(m, objective, 16);
      const storage = new InMemoryStorage();
      const a = await createStudy({ storage, studyName: 's', sampler: m() });
      for (let i = 0; i < 9; i++) await runOne(a, objective);
      const b = await loadStudy({ storage, studyName: 's', sampler: m() }); // the driver was restarted
      for (let i = 9; i < 16; i++) await runOne(b, objective);
      expect(await sampled(b)).toEqual(want);
    }
  });
});

describe('two workers with the same seed on one study', () => {
  it.each(SAMPLERS.filter(([name]) => name !== 'grid'))('%s: never draw the same start-up point', async (_name, bySeed, f) => {
    const make = () => bySeed(3);
    const storage = new InMemoryStorage();
    const a = await createStudy({ storage, studyName: 's', sampler: make() });
    const b = await loadStudy({ storage, studyName: 's', sampler: make() });
    for (let i = 0; i < 8; i++) {
      const ta = await a.ask();
      const tb = await b.ask();
      await f(ta);
      await f(tb);
      await a.tell(ta, await f(ta));
      await b.tell(tb, await f(tb));
    }
    const xs = (await a.getTrials()).map((t) => t.params.x);
    expect(new Set(xs).size).toBe(16);
  });
});
