import {
  createStudy,
  InMemoryStorage,
  loadStudy,
  NopPruner,
  RandomSampler,
  StaleTrialError,
  StudyDirection,
  TrialPruned,
  TrialAlreadyFinishedError,
  TrialState,
  type FrozenTrial,
} from '../src';

describe('Study: define-by-run, ask and tell', () => {
  it('optimize runs nTrials, records params and finds the best trial', async () => {
    const study = await createStudy({ sampler: new RandomSampler(1), pruner: new NopPruner() });
    await study.optimize(async (t) => {
      const x = await t.suggestFloat('x', -10, 10);
      const n = await t.suggestInt('n', 1, 5);
      const c = await t.suggestCategorical('c', ['a', 'b']);
      return x * x + n + (c === 'a' ? 0 : 1);
    }, { nTrials: 20 });
    const trials = await study.getTrials();
    expect(trials).toHaveLength(20);
    expect(trials.every((t) => t.state === TrialState.COMPLETE)).toBe(true);
    const best = await study.bestTrial();
    const expected = Math.min(...trials.map((t) => t.values![0]));
    expect(best.values![0]).toBe(expected);
    const p = best.params as { x: number; n: number; c: string };
    expect(best.values![0]).toBeCloseTo(p.x * p.x + p.n + (p.c === 'a' ? 0 : 1), 12);
    expect(await study.bestValue()).toBe(expected);
  });

  it('maximize picks the largest value', async () => {
    const study = await createStudy({ direction: 'maximize', sampler: new RandomSampler(2) });
    for (const v of [3, 9, 1]) {
      const t = await study.ask();
      await study.tell(t, v);
    }
    expect(await study.bestValue()).toBe(9);
    expect(study.direction).toBe(StudyDirection.MAXIMIZE);
  });

  it('conditional parameters appear only in the branch that asked for them', async () => {
    const study = await createStudy({ sampler: new RandomSampler(3) });
    await study.optimize(async (t) => {
      const kind = await t.suggestCategorical('kind', ['svm', 'tree']);
      if (kind === 'svm') return (await t.suggestFloat('C', 1e-3, 1e3, { log: true })) / 1000;
      return await t.suggestInt('depth', 1, 10);
    }, { nTrials: 30 });
    for (const t of await study.getTrials()) {
      if (t.params.kind === 'svm') {
        expect(Object.keys(t.params).sort()).toEqual(['C', 'kind']);
        expect(t.distributions.C).toEqual({ kind: 'float', low: 1e-3, high: 1e3, log: true, step: null });
      } else {
        expect(Object.keys(t.params).sort()).toEqual(['depth', 'kind']);
      }
    }
    const kinds = new Set((await study.getTrials()).map((t) => t.params.kind));
    expect(kinds).toEqual(new Set(['svm', 'tree']));
  });

  it('asking the same parameter twice returns the same value', async () => {
    const study = await createStudy({ sampler: new RandomSampler(4) });
    const t = await study.ask();
    const a = await t.suggestFloat('x', 0, 1);
    const b = await t.suggestFloat('x', 0, 1);
    expect(b).toBe(a);
    await expect(t.suggestInt('x', 0, 1)).rejects.toThrow(/suggested as float/);
  });

  it('bad suggest arguments give one clear line', async () => {
    const study = await createStudy({ sampler: new RandomSampler(5) });
    const t = await study.ask();
    await expect(t.suggestFloat('lr', 0, 1, { log: true })).rejects.toThrow('suggestFloat("lr"): log=true needs low > 0, got low=0');
    await expect(t.suggestFloat('y', 2, 1)).rejects.toThrow('low (2) must be <= high (1)');
    await expect(t.suggestInt('k', 0.5, 3)).rejects.toThrow('must be integers');
    await expect(t.suggestFloat('z', 0, 1, { log: true, step: 0.1 })).rejects.toThrow('cannot be used with log=true');
    await expect(t.suggestCategorical('c', [])).rejects.toThrow('non-empty');
  });

  it('a high off the step grid is lowered to the last grid point, as in Optuna', async () => {
    const study = await createStudy({ sampler: new RandomSampler(6) });
    const t = await study.ask();
    await t.suggestFloat('x', 0, 1.05, { step: 0.1 });
    await t.suggestInt('k', 0, 10, { step: 3 });
    const f = await t.freeze();
    expect(f.distributions.x).toEqual({ kind: 'float', low: 0, high: 1, log: false, step: 0.1 });
    expect(f.distributions.k).toEqual({ kind: 'int', low: 0, high: 9, log: false, step: 3 });
  });

  it('tell validates: wrong value count or NaN fails the trial, double tell throws', async () => {
    const study = await createStudy({ directions: ['minimize', 'maximize'], sampler: new RandomSampler(7) });
    const a = await study.ask();
    expect((await study.tell(a, [1])).state).toBe(TrialState.FAIL);
    const b = await study.ask();
    const fb = await study.tell(b, [1, NaN]);
    expect(fb.state).toBe(TrialState.FAIL);
    expect(fb.systemAttrs.fail_reason).toMatch(/non-finite/);
    const c = await study.ask();
    await study.tell(c, [1, 2]);
    await expect(study.tell(c, [1, 2])).rejects.toThrow(/already COMPLETE/);
    await expect(study.tell(0, [3, 4])).rejects.toThrow(/already FAIL/);
    const late = await study.tell(c, { state: TrialState.FAIL }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(TrialAlreadyFinishedError);
    expect(late).toBeInstanceOf(StaleTrialError); // what the driver and optimize() catch
    expect(late).toMatchObject({ trialNumber: c.number, state: TrialState.COMPLETE, message: `tell: trial ${c.number} is already COMPLETE` });
  });

  it('a pruned trial records its last step value; optimize turns TrialPruned into PRUNED', async () => {
    const study = await createStudy({ sampler: new RandomSampler(8), pruner: new NopPruner() });
    await study.optimize(async (t) => {
      await t.suggestFloat('x', 0, 1);
      await t.report(0, 5);
      await t.report(3, 2.5);
      throw new TrialPruned(3);
    }, { nTrials: 1 });
    const [t] = await study.getTrials();
    expect(t.state).toBe(TrialState.PRUNED);
    expect(t.values).toEqual([2.5]);
    expect([...t.intermediateValues.entries()]).toEqual([[0, 5], [3, 2.5]]);
  });

  it('report: a second value at the same step is ignored; bad steps and multi-objective reports are refused', async () => {
    const study = await createStudy({ sampler: new RandomSampler(8), pruner: new NopPruner() });
    const t = await study.ask();
    await t.report(1, 0.5);
    await t.report(1, 0.9);
    expect([...(await t.freeze()).intermediateValues.entries()]).toEqual([[1, 0.5]]);
    await expect(t.report(-1, 1)).rejects.toThrow('step must be a non-negative integer, got -1');
    const mo = await createStudy({ directions: ['minimize', 'minimize'], sampler: new RandomSampler(8) });
    await expect((await mo.ask()).report(0, 1)).rejects.toThrow(/single-objective/);
  });

  it('optimize: listed errors fail the trial and go on, others stop the study', async () => {
    class Flaky extends Error {}
    const study = await createStudy({ sampler: new RandomSampler(9) });
    let n = 0;
    await study.optimize(async () => {
      n++;
      if (n % 2) throw new Flaky('odd');
      return n;
    }, { nTrials: 4, catch: [Flaky] });
    const states = (await study.getTrials()).map((t) => t.state);
    expect(states).toEqual([TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]);
    await expect(study.optimize(() => { throw new Error('boom'); }, { nTrials: 3 })).rejects.toThrow('boom');
    const last = (await study.getTrials()).at(-1)!;
    expect(last.state).toBe(TrialState.FAIL);
    expect(last.systemAttrs.fail_reason).toBe('boom');
    expect(await study.getTrials()).toHaveLength(5);
  });

  it('optimize with nJobs runs trials concurrently and stops at nTrials', async () => {
    const study = await createStudy({ sampler: new RandomSampler(10) });
    let running = 0;
    let peak = 0;
    await study.optimize(async (t) => {
      running++;
      peak = Math.max(peak, running);
      const x = await t.suggestFloat('x', 0, 1);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return x;
    }, { nTrials: 9, nJobs: 3 });
    expect(peak).toBe(3);
    expect(await study.getTrials({ states: [TrialState.COMPLETE] })).toHaveLength(9);
  });

  it('optimize requires nTrials or timeout', async () => {
    const study = await createStudy();
    await expect(study.optimize(() => 1)).rejects.toThrow('give nTrials or timeout');
  });
});

describe('enqueueTrial', () => {
  it('ask() picks up enqueued trials first, in order, with their fixed params', async () => {
    const study = await createStudy({ sampler: new RandomSampler(11) });
    await study.enqueueTrial({ x: 0.25, c: 'b' });
    await study.enqueueTrial({ x: 0.75 });
    const t1 = await study.ask();
    expect(t1.number).toBe(0);
    expect(await t1.suggestFloat('x', 0, 1)).toBe(0.25);
    expect(await t1.suggestCategorical('c', ['a', 'b'])).toBe('b');
    const t2 = await study.ask();
    expect(t2.number).toBe(1);
    expect(await t2.suggestFloat('x', 0, 1)).toBe(0.75);
    const c2 = await t2.suggestCategorical('c', ['a', 'b']); // not fixed: sampled
    expect(['a', 'b']).toContain(c2);
    const t3 = await study.ask();
    expect(t3.number).toBe(2);
    expect((await t3.freeze()).state).toBe(TrialState.RUNNING);
  });

  it('an enqueued value outside the suggested range is a clear error', async () => {
    const study = await createStudy({ sampler: new RandomSampler(12) });
    await study.enqueueTrial({ x: 5 });
    const t = await study.ask();
    await expect(t.suggestFloat('x', 0, 1)).rejects.toThrow('enqueued parameter "x": 5 is outside the suggested range');
  });

  it('skipIfExists does not enqueue a duplicate', async () => {
    const study = await createStudy({ sampler: new RandomSampler(13) });
    await study.enqueueTrial({ x: 1 });
    await study.enqueueTrial({ x: 1 }, { skipIfExists: true });
    await study.enqueueTrial({ x: 2 }, { skipIfExists: true });
    expect((await study.getTrials()).map((t) => t.systemAttrs.fixed_params)).toEqual([{ x: 1 }, { x: 2 }]);
  });

  it('two concurrent asks never claim the same WAITING trial', async () => {
    const storage = new InMemoryStorage();
    const a = await createStudy({ storage, studyName: 's', sampler: new RandomSampler(14) });
    const b = await loadStudy({ storage, studyName: 's', sampler: new RandomSampler(15) });
    await a.enqueueTrial({ x: 1 });
    const [ta, tb] = await Promise.all([a.ask(), b.ask()]);
    expect(new Set([ta.number, tb.number])).toEqual(new Set([0, 1]));
    const all = await a.getTrials();
    expect(all.map((t) => t.state)).toEqual([TrialState.RUNNING, TrialState.RUNNING]);
    expect(all[1].systemAttrs.fixed_params).toBeUndefined();
  });

  it('the claim is atomic at the storage: only one RUNNING transition from WAITING succeeds', async () => {
    const storage = new InMemoryStorage();
    const sid = await storage.createStudy([StudyDirection.MINIMIZE], 's');
    const id = await storage.createNewTrial(sid, { state: TrialState.WAITING });
    const results = await Promise.all([0, 1, 2].map(() => storage.setTrialStateValues(id, TrialState.RUNNING)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('createStudy / loadStudy', () => {
  it('loadIfExists returns the same study; without it a duplicate name fails', async () => {
    const storage = new InMemoryStorage();
    const s1 = await createStudy({ storage, studyName: 'exp', sampler: new RandomSampler(1) });
    await s1.tell(await s1.ask(), 1);
    await expect(createStudy({ storage, studyName: 'exp' })).rejects.toThrow('study "exp" already exists');
    const s2 = await createStudy({ storage, studyName: 'exp', loadIfExists: true });
    expect(s2.studyId).toBe(s1.studyId);
    expect(await s2.getTrials()).toHaveLength(1);
    await expect(createStudy({ storage, studyName: 'exp', loadIfExists: true, direction: 'maximize' })).rejects.toThrow(/exists with directions MINIMIZE/);
    await expect(loadStudy({ storage, studyName: 'nope' })).rejects.toThrow('no study named "nope"');
  });

  it('a bad direction names the value', async () => {
    await expect(createStudy({ direction: 'up' as 'maximize' })).rejects.toThrow('direction: got "up", expected "minimize" or "maximize"');
  });
});

describe('multi-objective Pareto front', () => {
  it('bestTrials is the hand-checked non-dominated set (min, max)', async () => {
    const study = await createStudy({ directions: ['minimize', 'maximize'], sampler: new RandomSampler(1) });
    // (cost, accuracy): minimise cost, maximise accuracy.
    const points: [number, number][] = [
      [1, 0.5], // front: cheapest
      [2, 0.7], // front
      [2, 0.6], // dominated by (2, 0.7)
      [3, 0.7], // dominated by (2, 0.7)
      [4, 0.9], // front: most accurate
      [5, 0.9], // dominated by (4, 0.9)
      [1, 0.4], // dominated by (1, 0.5)
      [3, 0.8], // front
    ];
    for (const p of points) await study.tell(await study.ask(), p);
    const front = (await study.bestTrials()).map((t: FrozenTrial) => t.number);
    expect(front).toEqual([0, 1, 4, 7]);
    expect(() => study.direction).toThrow(/several objectives/);
    await expect(study.bestTrial()).rejects.toThrow(/several objectives/);
  });

  it('single objective: bestTrials holds every trial tied at the best value', async () => {
    const study = await createStudy({ sampler: new RandomSampler(1) });
    for (const v of [2, 1, 3, 1]) await study.tell(await study.ask(), v);
    expect((await study.bestTrials()).map((t) => t.number)).toEqual([1, 3]);
  });
});
