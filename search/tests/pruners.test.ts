import {
  createStudy,
  HyperbandPruner,
  MedianPruner,
  NopPruner,
  PercentilePruner,
  RandomSampler,
  Rng,
  SuccessiveHalvingPruner,
  TrialState,
  type Pruner,
  type Study,
} from '../src';
import { crc32 } from '../src/pruners/crc32';
import { nanPercentile } from '../src/pruners/percentile';
import { runPython } from './samplers-python';

/** Completes one trial per curve (step -> value). */
async function completeCurves(study: Study, curves: number[][]): Promise<void> {
  for (const curve of curves) {
    const t = await study.ask();
    for (let s = 0; s < curve.length; s++) await t.report(s, curve[s]);
    await study.tell(t, curve[curve.length - 1]);
  }
}

/** Starts a trial, reports `curve`, returns the pruner's decision after the last report. */
async function decide(study: Study, curve: [number, number][]): Promise<boolean> {
  const t = await study.ask();
  for (const [s, v] of curve) await t.report(s, v);
  const d = await t.shouldPrune();
  await study.tell(t, { state: TrialState.FAIL });
  return d;
}

const make = (pruner: Pruner, direction: 'minimize' | 'maximize' = 'minimize') => createStudy({ pruner, direction, sampler: new RandomSampler(0) });

describe('NopPruner', () => {
  it('never prunes', async () => {
    const s = await make(new NopPruner());
    await completeCurves(s, [[1, 1], [2, 2]]);
    expect(await decide(s, [[0, 1e9], [1, 1e9]])).toBe(false);
  });
});

describe('MedianPruner and PercentilePruner (hand-computed)', () => {
  const five = [[9, 1], [9, 2], [9, 3], [9, 4], [9, 5]]; // step-1 values 1..5: median 3, p25 = 2, p75 = 4

  it('median: prunes above the median of complete trials at the step, keeps below', async () => {
    const s = await make(new MedianPruner());
    await completeCurves(s, five);
    expect(await decide(s, [[0, 9], [1, 3.5]])).toBe(true);
    expect(await decide(s, [[0, 9], [1, 2.9]])).toBe(false);
    expect(await decide(s, [[0, 9], [1, 3]])).toBe(false); // equal to the median is kept
  });

  it('uses the best value over the trial\'s steps, not the latest', async () => {
    const s = await make(new MedianPruner());
    await completeCurves(s, five);
    expect(await decide(s, [[0, 1], [1, 10]])).toBe(false);
  });

  it('no pruning before nStartupTrials complete, before nWarmupSteps, or off the interval', async () => {
    const s = await make(new MedianPruner({ nStartupTrials: 6 }));
    await completeCurves(s, five);
    expect(await decide(s, [[1, 100]])).toBe(false);
    const w = await make(new MedianPruner({ nWarmupSteps: 2 }));
    await completeCurves(w, [[9, 9, 1], [9, 9, 2], [9, 9, 3], [9, 9, 4], [9, 9, 5]]);
    expect(await decide(w, [[0, 100], [1, 100]])).toBe(false); // step 1 < warm-up
    expect(await decide(w, [[0, 100], [1, 100], [2, 100]])).toBe(true);
    // warm-up 1, interval 3: checkpoints at steps 1, 4, 7. A report at step 5 right after one at 4 is not checked.
    const iv = await make(new MedianPruner({ nWarmupSteps: 1, intervalSteps: 3 }));
    await completeCurves(iv, Array.from({ length: 5 }, (_, i) => new Array(8).fill(i + 1)));
    expect(await decide(iv, [[4, 100], [5, 100]])).toBe(false);
    expect(await decide(iv, [[3, 100], [5, 100]])).toBe(true); // first report since checkpoint 4
    expect(await decide(iv, [[4, 100]])).toBe(true);
  });

  it('percentile 25 (minimise: threshold p25 = 2) and maximise (threshold p75 = 4)', async () => {
    const s = await make(new PercentilePruner(25));
    await completeCurves(s, five);
    expect(await decide(s, [[0, 9], [1, 2.5]])).toBe(true);
    expect(await decide(s, [[0, 9], [1, 1.5]])).toBe(false);
    const m = await make(new PercentilePruner(25), 'maximize');
    await completeCurves(m, five);
    expect(await decide(m, [[0, -9], [1, 3.9]])).toBe(true);
    expect(await decide(m, [[0, -9], [1, 4.1]])).toBe(false);
  });

  it('nMinTrials: too few complete trials with a value at this step means no pruning; NaN-only trials are pruned', async () => {
    const s = await make(new MedianPruner({ nStartupTrials: 0, nMinTrials: 3 }));
    await completeCurves(s, [[1, 1], [1, 1], [1]]);
    expect(await decide(s, [[0, 100]])).toBe(true); // 3 values at step 0
    expect(await decide(s, [[1, 100]])).toBe(false); // only 2 at step 1
    expect(await decide(s, [[0, NaN]])).toBe(true);
  });

  it('nanPercentile interpolates linearly like numpy', () => {
    expect(nanPercentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(nanPercentile([4, 1, NaN, 3, 2], 25)).toBe(1.75);
    expect(nanPercentile([7], 90)).toBe(7);
    expect(nanPercentile([], 50)).toBeNaN();
  });

  it('rejects bad settings with the field and value', () => {
    expect(() => new PercentilePruner(101)).toThrow('PercentilePruner: percentile must be in [0, 100], got 101');
    expect(() => new MedianPruner({ intervalSteps: 0 })).toThrow('intervalSteps must be >= 1, got 0');
  });
});

describe('SuccessiveHalvingPruner (hand-computed, eta 2, minResource 1)', () => {
  it('promotes the top half at each rung, asynchronously', async () => {
    const s = await make(new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 }));
    // Each trial reports step 0 (below rung 0 at step 1) then step 1 (rung 0).
    const at1 = async (v: number) => decide(s, [[0, v], [1, v]]);
    expect(await at1(5)).toBe(false); // alone at rung 0: promoted
    expect(await at1(3)).toBe(false); // [5,3]: keep the best 1 -> 3
    expect(await at1(4)).toBe(true); // [5,3,4]: best 1 is 3
    expect(await at1(1)).toBe(false); // [5,3,4,1]: best 2 -> threshold 3
    expect(await at1(2.5)).toBe(false); // 5 values: best 2 -> threshold 2.5
    expect(await at1(3)).toBe(false); // 6 values: best 3 -> threshold 3
    expect(await at1(3.5)).toBe(true); // 7 values: best 3 -> threshold 3
  });

  it('a trial climbs rungs in one call when it reports late; step 0 is never checked', async () => {
    const s = await make(new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 }));
    expect(await decide(s, [[0, 100]])).toBe(false);
    const t = await s.ask();
    await t.report(4, 1); // rungs at 1, 2, 4: recorded at all three
    expect(await t.shouldPrune()).toBe(false);
    const f = await t.freeze();
    expect([f.systemAttrs.completed_rung_0, f.systemAttrs.completed_rung_1, f.systemAttrs.completed_rung_2]).toEqual([1, 1, 1]);
    expect(f.systemAttrs.completed_rung_3).toBeUndefined();
  });

  it("minResource 'auto' waits for a complete trial, then uses 1% of its last step", async () => {
    const s = await make(new SuccessiveHalvingPruner({ reductionFactor: 2 }));
    expect(await decide(s, [[300, 5]])).toBe(false); // nothing complete: no decision, nothing recorded
    await completeCurves(s, [Array.from({ length: 401 }, () => 1)]); // last step 400 -> minResource 4
    expect(await decide(s, [[3, 100]])).toBe(false); // below rung 0 (step 4)
    const t = await s.ask();
    await t.report(4, 100);
    expect(await t.shouldPrune()).toBe(false); // alone at rung 0
    expect((await t.freeze()).systemAttrs.completed_rung_0).toBe(100);
  });

  it('bootstrapCount prunes until a rung has more than that many values', async () => {
    const s = await make(new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2, bootstrapCount: 2 }));
    expect(await decide(s, [[1, 1]])).toBe(true);
    expect(await decide(s, [[1, 1]])).toBe(true);
    expect(await decide(s, [[1, 0.5]])).toBe(false);
  });
});

describe('HyperbandPruner', () => {
  it('crc32 matches zlib', () => {
    const ref = runPython<number[]>('import json,sys,binascii\nprint(json.dumps([binascii.crc32(s.encode()) for s in json.load(sys.stdin)]))', ['a', 'study_0', 'héllo_12', '']);
    expect(['a', 'study_0', 'héllo_12', ''].map(crc32)).toEqual(ref);
  });

  it('brackets and budgets: maxResource 9, eta 3 gives 3 brackets with budgets 9, 5, 3 (hand-computed)', async () => {
    const p = new HyperbandPruner({ minResource: 1, maxResource: 9, reductionFactor: 3 });
    const s = await make(p);
    await decide(s, [[0, 1]]);
    expect(p.nBrackets).toBe(3);
    // Trials spread over brackets roughly 9:5:3 (17 slots).
    const counts = [0, 0, 0];
    for (let i = 0; i < 1700; i++) counts[p.bracketOf('hb', i)]++;
    expect(counts[0]).toBeGreaterThan(counts[1]);
    expect(counts[1]).toBeGreaterThan(counts[2]);
    expect(Math.abs(counts[0] / 1700 - 9 / 17)).toBeLessThan(0.05);
  });
});

/**
 * A decision-independent script: N trials with fixed learning curves, advanced one step at a time
 * in a seeded interleaved order. Both implementations replay it; pruned or finished trials skip
 * their remaining events. Returns the (trial, step) points at which the trial was pruned.
 */
function makeScript(seed: number, nTrials: number, nSteps: number): { curves: number[][]; order: number[] } {
  const rng = new Rng(seed);
  const curves = Array.from({ length: nTrials }, () => {
    const floor = rng.random();
    const speed = 0.2 + rng.random();
    return Array.from({ length: nSteps }, (_, s) => floor + Math.exp(-speed * s) + 0.05 * rng.normal());
  });
  // Trials start in order, a few at a time.
  const order: number[] = [];
  const remaining = new Array(nTrials).fill(nSteps);
  let started = 0;
  const active: number[] = [];
  while (started < nTrials || active.length) {
    while (active.length < 4 && started < nTrials) active.push(started++);
    const k = rng.randInt(active.length);
    const i = active[k];
    order.push(i);
    if (--remaining[i] === 0) active.splice(k, 1);
  }
  return { curves, order };
}

async function replayOurs(pruner: Pruner, script: { curves: number[][]; order: number[] }, studyName: string): Promise<[number, number][]> {
  const study = await createStudy({ pruner, studyName, sampler: new RandomSampler(0) });
  const trials = new Map<number, import('../src').Trial>();
  const step = new Map<number, number>();
  const done = new Set<number>();
  const pruned: [number, number][] = [];
  for (const i of script.order) {
    if (done.has(i)) continue;
    if (!trials.has(i)) {
      trials.set(i, await study.ask());
      step.set(i, 0);
    }
    const t = trials.get(i)!;
    const s = step.get(i)!;
    await t.report(s, script.curves[i][s]);
    if (await t.shouldPrune()) {
      pruned.push([i, s]);
      await study.tell(t, { state: TrialState.PRUNED });
      done.add(i);
    } else if (s === script.curves[i].length - 1) {
      await study.tell(t, script.curves[i][s]);
      done.add(i);
    }
    step.set(i, s + 1);
  }
  return pruned;
}

const OPTUNA_REPLAY = `
import json,sys,optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
d=json.load(sys.stdin)
kind,kw=d['pruner']
P={'median':optuna.pruners.MedianPruner,'percentile':optuna.pruners.PercentilePruner,'sha':optuna.pruners.SuccessiveHalvingPruner,'hyperband':optuna.pruners.HyperbandPruner}[kind]
pruner=P(**kw)
study=optuna.create_study(study_name=d['name'],pruner=pruner,sampler=optuna.samplers.RandomSampler(seed=0))
curves=d['curves'];trials={};step={};done=set();pruned=[]
for i in d['order']:
    if i in done: continue
    if i not in trials:
        trials[i]=study.ask(); step[i]=0
    t=trials[i]; s=step[i]
    t.report(curves[i][s],s)
    if t.should_prune():
        pruned.append([i,s]); study.tell(t,state=optuna.trial.TrialState.PRUNED); done.add(i)
    elif s==len(curves[i])-1:
        study.tell(t,curves[i][s]); done.add(i)
    step[i]=s+1
print(json.dumps(pruned))
`;

describe('pruners replay the same decisions as Optuna 5 on seeded interleaved learning curves', () => {
  const cases: [string, () => Pruner, Record<string, unknown>][] = [
    ['median', () => new MedianPruner({ nStartupTrials: 3, nWarmupSteps: 2 }), { n_startup_trials: 3, n_warmup_steps: 2 }],
    ['percentile', () => new PercentilePruner(30, { nStartupTrials: 2, intervalSteps: 3, nMinTrials: 2 }), { percentile: 30, n_startup_trials: 2, interval_steps: 3, n_min_trials: 2 }],
    ['sha', () => new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 }), { min_resource: 1, reduction_factor: 3 }],
    ['sha', () => new SuccessiveHalvingPruner({ reductionFactor: 2, minEarlyStoppingRate: 1 }), { reduction_factor: 2, min_early_stopping_rate: 1 }],
    ['hyperband', () => new HyperbandPruner({ minResource: 1, maxResource: 27, reductionFactor: 3 }), { min_resource: 1, max_resource: 27, reduction_factor: 3 }],
    ['hyperband', () => new HyperbandPruner({ reductionFactor: 2 }), { reduction_factor: 2 }],
  ];
  it.each(cases.map((c, i) => [i, ...c] as const))('case %i: %s', async (i, kind, ours, kw) => {
    const script = makeScript(100 + i, 40, 28);
    const name = `replay-${i}`;
    const mine = await replayOurs(ours(), script, name);
    const theirs = runPython<[number, number][]>(OPTUNA_REPLAY, { pruner: [kind, kw], curves: script.curves, order: script.order, name });
    expect(mine.length).toBeGreaterThan(3); // the script must actually exercise pruning
    expect(mine).toEqual(theirs);
  });
});

describe('PercentilePruner option-object form', () => {
  it('new PercentilePruner({ percentile, ... }) decides like the positional form', async () => {
    const s = await make(new PercentilePruner({ percentile: 25, nStartupTrials: 5 }));
    await completeCurves(s, [[9, 1], [9, 2], [9, 3], [9, 4], [9, 5]]);
    expect(await decide(s, [[0, 9], [1, 2.5]])).toBe(true);
    expect(await decide(s, [[0, 9], [1, 1.5]])).toBe(false);
    expect(() => new PercentilePruner({ percentile: -1 })).toThrow('got -1');
  });
});
