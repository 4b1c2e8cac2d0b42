import { createStudy, DuplicatedStudyError, InMemoryStorage, RandomSampler, StaleTrialError, StudyDirection, StudyNotFoundError, TrialState } from '../src';

const f01 = { kind: 'float', low: 0, high: 1, log: false, step: null } as const;

describe('InMemoryStorage', () => {
  it('creates, names, lists and deletes studies; duplicate and unknown names are typed errors', async () => {
    const s = new InMemoryStorage();
    const a = await s.createStudy([StudyDirection.MINIMIZE], 'a');
    const b = await s.createStudy([StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE], 'b');
    expect(await s.getStudyIdFromName('b')).toBe(b);
    expect(await s.getStudyNameFromId(a)).toBe('a');
    expect(await s.getStudyDirections(b)).toEqual([StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]);
    await expect(s.createStudy([StudyDirection.MINIMIZE], 'a')).rejects.toBeInstanceOf(DuplicatedStudyError);
    await s.createNewTrial(a);
    await s.deleteStudy(a);
    await expect(s.getStudyIdFromName('a')).rejects.toBeInstanceOf(StudyNotFoundError);
    expect((await s.getAllStudies()).map((x) => x.studyName)).toEqual(['b']);
  });

  it('trial numbers count per study; ids are storage-wide', async () => {
    const s = new InMemoryStorage();
    const a = await s.createStudy([StudyDirection.MINIMIZE], 'a');
    const b = await s.createStudy([StudyDirection.MINIMIZE], 'b');
    const ids = [await s.createNewTrial(a), await s.createNewTrial(b), await s.createNewTrial(a)];
    expect(new Set(ids).size).toBe(3);
    expect((await s.getTrial(ids[2])).number).toBe(1);
    expect(await s.getTrialIdFromStudyIdTrialNumber(a, 1)).toBe(ids[2]);
    expect((await s.getTrial(ids[1])).number).toBe(0);
  });

  it('returned snapshots are copies: changing them does not change the storage', async () => {
    const s = new InMemoryStorage();
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 's');
    const id = await s.createNewTrial(sid);
    await s.setTrialUserAttr(id, 'k', { nested: [1] });
    const snap = await s.getTrial(id);
    (snap.userAttrs.k as { nested: number[] }).nested.push(2);
    snap.params.x = 3;
    const again = await s.getTrial(id);
    expect(again.userAttrs.k).toEqual({ nested: [1] });
    expect(again.params).toEqual({});
  });

  it('finished trials are immutable: any write throws StaleTrialError', async () => {
    const s = new InMemoryStorage();
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 's');
    const id = await s.createNewTrial(sid);
    await s.setTrialParam(id, 'x', 0.5, f01);
    expect(await s.setTrialStateValues(id, TrialState.COMPLETE, [1])).toBe(true);
    const t = await s.getTrial(id);
    expect(t.values).toEqual([1]);
    expect(t.datetimeComplete).not.toBeNull();
    await expect(s.setTrialParam(id, 'y', 0.5, f01)).rejects.toBeInstanceOf(StaleTrialError);
    await expect(s.setTrialIntermediateValue(id, 0, 1)).rejects.toBeInstanceOf(StaleTrialError);
    await expect(s.setTrialStateValues(id, TrialState.FAIL)).rejects.toThrow('trial 0 (id 0) is already COMPLETE');
    expect(Object.isFrozen(t)).toBe(true);
  });

  it('a parameter must keep its kind (and a categorical its choices) across trials; values must be inside the range', async () => {
    const s = new InMemoryStorage();
    const sid = await s.createStudy([StudyDirection.MINIMIZE], 's');
    const t1 = await s.createNewTrial(sid);
    await s.setTrialParam(t1, 'x', 0.5, f01);
    await s.setTrialParam(t1, 'c', 1, { kind: 'categorical', choices: ['a', 'b'] });
    const t2 = await s.createNewTrial(sid);
    await s.setTrialParam(t2, 'x', 3, { ...f01, high: 5 }); // another range of the same kind is fine (as in Optuna)
    await expect(s.setTrialParam(t2, 'x', 1, { kind: 'int', low: 0, high: 5, log: false, step: 1 })).rejects.toThrow('parameter "x": distribution');
    await expect(s.setTrialParam(t2, 'c', 0, { kind: 'categorical', choices: ['a', 'z'] })).rejects.toThrow('incompatible');
    await expect(s.setTrialParam(t2, 'y', 2, f01)).rejects.toThrow('parameter "y": internal value 2 is outside');
    expect((await s.getTrial(t1)).params).toEqual({ x: 0.5, c: 'b' });
  });

  it('filters trials by state, in number order', async () => {
    const study = await createStudy({ sampler: new RandomSampler(0) });
    await study.tell(await study.ask(), 1);
    await study.ask();
    await study.tell(await study.ask(), { state: TrialState.FAIL });
    await study.enqueueTrial({});
    expect((await study.getTrials({ states: [TrialState.RUNNING, TrialState.WAITING] })).map((t) => [t.number, t.state])).toEqual([
      [1, TrialState.RUNNING],
      [3, TrialState.WAITING],
    ]);
  });
});

describe('optimize stopping rules', () => {
  it('timeout 0 starts no trial; stop() from a callback ends the loop after the running trial', async () => {
    const study = await createStudy({ sampler: new RandomSampler(0) });
    await study.optimize(() => 1, { timeout: 0 });
    expect(await study.getTrials()).toHaveLength(0);
    await study.optimize(() => 1, { nTrials: 100, callbacks: [(s, t) => (t.number === 4 ? s.stop() : undefined)] });
    expect(await study.getTrials()).toHaveLength(5);
  });
});
