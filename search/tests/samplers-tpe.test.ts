import { createStudy, NopPruner, RandomSampler, TrialState, type Distribution, type Study } from '../src';
import { bandwidths, ParzenEstimator } from '../src/samplers/tpe/parzen-estimator';
import { TPESampler } from '../src/samplers/tpe/sampler';
import { defaultGamma, defaultWeights, prunedScore, splitTrials } from '../src/samplers/tpe/split';
import { erfc, logGaussMass, logNdtr } from '../src/samplers/tpe/truncnorm';
import { runPython } from './samplers-python';

const quadratic = async (t: import('../src').Trial): Promise<number> => {
  const x = await t.suggestFloat('x', -10, 10);
  const y = await t.suggestFloat('y', -10, 10);
  return (x - 2) ** 2 + (y + 3) ** 2;
};

describe('normal-distribution numerics against scipy and libm', () => {
  it('erfc and log Phi match scipy, log mass matches libm erf / scipy log_ndtr, to 1e-12 relative, tails included', () => {
    const xs = [0, 1e-8, 0.3, 1, 2.49, 2.51, 4, 8, 20];
    const zs = [-60, -20, -5, -1, 0, 0.5, 3, 8, 30];
    const ab: [number, number][] = [[-1, 1], [-3, -2], [2, 3], [-40, -39], [39, 40], [-0.1, 0.1], [5, 30], [-1e-9, 1e-9]];
    const ref = runPython<{ erfc: number[]; lndtr: number[]; mass: number[] }>(
      `import json,sys,math
import numpy as np
from scipy.special import erfc, log_ndtr
d=json.load(sys.stdin)
def mass(a,b):
    if a<0<b: return math.log(0.5*(math.erf(b/math.sqrt(2))+math.erf(-a/math.sqrt(2))))  # libm erf, no cancellation
    if a>=0: return mass(-b,-a)
    la,lb=log_ndtr(a),log_ndtr(b)  # left tail: log Phi(b) + log(1 - Phi(a)/Phi(b)), accurate for well-separated a, b
    return float(lb+np.log1p(-np.exp(la-lb)))
print(json.dumps({'erfc':[float(erfc(x)) for x in d['xs']],'lndtr':[float(log_ndtr(z)) for z in d['zs']],'mass':[mass(a,b) for a,b in d['ab']]}))`,
      { xs, zs, ab },
    );
    const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
    xs.forEach((x, i) => expect(rel(erfc(x), ref.erfc[i])).toBeLessThan(1e-12));
    zs.forEach((z, i) => expect(rel(logNdtr(z), ref.lndtr[i])).toBeLessThan(1e-12));
    ab.forEach(([a, b], i) => expect(rel(logGaussMass(a, b), ref.mass[i])).toBeLessThan(1e-12));
  });
});

describe('Parzen estimator against Optuna 5', () => {
  it('bandwidths follow the neighbour rule, endpoint rule and magic clip (hand-computed)', () => {
    // mus 1, 2, 6 on [0, 10]: neighbours' gaps 1,1,4,4 -> max gaps [1, 4, 4]; without endpoints
    // the outer kernels use inner gaps: [1, 4, 4]; magic clip floor 10/min(100, 5) = 2 -> [2, 4, 4].
    expect(bandwidths([6, 1, 2], 0, 10, { considerEndpoints: false, considerMagicClip: true })).toEqual([4, 2, 4]);
    expect(bandwidths([6, 1, 2], 0, 10, { considerEndpoints: false, considerMagicClip: false })).toEqual([4, 1, 4]);
    // With endpoints: kernel at 1 sees gap 1 to low and 1 to 2 -> 1; kernel at 6 sees 4 and 4 -> 4.
    expect(bandwidths([6, 1, 2], 0, 10, { considerEndpoints: true, considerMagicClip: false })).toEqual([4, 1, 4]);
    expect(bandwidths([9.5, 1, 2], 0, 10, { considerEndpoints: true, considerMagicClip: false })).toEqual([7.5, 1, 7.5]);
    expect(bandwidths([9.5, 1, 2], 0, 10, { considerEndpoints: false, considerMagicClip: false })).toEqual([7.5, 1, 7.5]);
    expect(bandwidths([3], 0, 10, { considerEndpoints: false, considerMagicClip: false })).toEqual([7]);
  });

  it('log densities equal Optuna\'s _ParzenEstimator for float, log, step, int, log-int and categorical', () => {
    const space: Record<string, Distribution> = {
      a: { kind: 'float', low: -5, high: 5, log: false, step: null },
      b: { kind: 'float', low: 1e-4, high: 1, log: true, step: null },
      c: { kind: 'float', low: 0, high: 1, log: false, step: 0.1 },
      d: { kind: 'int', low: 1, high: 9, log: false, step: 2 },
      e: { kind: 'int', low: 1, high: 512, log: true, step: 1 },
      f: { kind: 'categorical', choices: ['x', 'y', 'z'] },
    };
    const obs: Record<string, number[]> = {
      a: [-4.5, 0.3, 2.2, 2.3, 4.9, -1, 0, 3.3],
      b: [1e-3, 0.5, 2e-4, 0.02, 0.9, 1e-4, 0.3, 0.05],
      c: [0.1, 0.5, 0.5, 1, 0, 0.3, 0.7, 0.9],
      d: [1, 3, 9, 5, 5, 7, 1, 3],
      e: [1, 64, 300, 2, 512, 17, 8, 100],
      f: [0, 2, 2, 1, 0, 0, 2, 1],
    };
    const samples: Record<string, number[]> = {
      a: [-5, 0, 2.25, 4.99],
      b: [1e-4, 0.01, 0.5, 1],
      c: [0, 0.4, 0.5, 1],
      d: [1, 3, 7, 9],
      e: [1, 3, 64, 512],
      f: [0, 1, 2, 2],
    };
    for (const [consider_endpoints, prior_weight] of [[false, 1], [true, 0.5]] as const) {
      const pe = new ParzenEstimator(obs, space, { priorWeight: prior_weight, considerMagicClip: true, considerEndpoints: consider_endpoints, weights: defaultWeights });
      const ours = pe.logPdf(samples);
      const ref = runPython<number[]>(
        `import json,sys
import numpy as np
from optuna.distributions import FloatDistribution, IntDistribution, CategoricalDistribution
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights
d=json.load(sys.stdin)
space={'a':FloatDistribution(-5,5),'b':FloatDistribution(1e-4,1,log=True),'c':FloatDistribution(0,1,step=0.1),
 'd':IntDistribution(1,9,step=2),'e':IntDistribution(1,512,log=True),'f':CategoricalDistribution(['x','y','z'])}
p=_ParzenEstimatorParameters(prior_weight=d['pw'],consider_magic_clip=True,consider_endpoints=d['ce'],weights=default_weights,multivariate=True)
pe=_ParzenEstimator({k:np.array(v,dtype=float) for k,v in d['obs'].items()},space,p)
print(json.dumps(pe.log_pdf({k:np.array(v,dtype=float) for k,v in d['s'].items()}).tolist()))`,
        { obs, s: samples, pw: prior_weight, ce: consider_endpoints },
      );
      ours.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 9));
    }
  });

  it('the empty estimator is the prior alone; sampling stays on the grid', async () => {
    const space: Record<string, Distribution> = {
      c: { kind: 'float', low: 0, high: 1, log: false, step: 0.25 },
      e: { kind: 'int', low: 1, high: 100, log: true, step: 1 },
    };
    const pe = new ParzenEstimator({ c: [], e: [] }, space, { priorWeight: 1, considerMagicClip: true, considerEndpoints: false, weights: defaultWeights });
    expect(pe.nKernels).toBe(1);
    const { Rng } = await import('../src');
    const s = pe.sample(new Rng(1), 500);
    for (const v of s.c) expect([0, 0.25, 0.5, 0.75, 1]).toContain(v);
    for (const v of s.e) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(1);
      expect(v).toBeLessThanOrEqual(100);
    }
  });
});

describe('TPE split rules', () => {
  it('gamma and weights follow Optuna 5 (hand-computed)', () => {
    expect([0, 1, 10, 11, 100, 249, 250, 251, 1000].map(defaultGamma)).toEqual([0, 1, 1, 2, 10, 25, 25, 25, 25]);
    expect(defaultWeights(3)).toEqual([1, 1, 1]);
    expect(defaultWeights(26)).toEqual([1 / 26, ...new Array(25).fill(1)]);
    const w = defaultWeights(28); // ramp of 3 from 1/28 to 1
    expect(w.slice(0, 3)).toEqual([1 / 28, (1 / 28 + 1) / 2, 1]);
    expect(w).toHaveLength(28);
  });

  it('pruned trials rank by last step, then last value; RUNNING trials always go above', () => {
    const mk = (number: number, state: TrialState, values: number[] | null, iv: [number, number][] = []) => ({
      trialId: number, number, state, values, datetimeStart: null, datetimeComplete: null, params: {}, distributions: {}, userAttrs: {}, systemAttrs: {},
      intermediateValues: new Map(iv),
    });
    const trials = [
      mk(0, TrialState.COMPLETE, [5]),
      mk(1, TrialState.PRUNED, [1], [[0, 3], [1, 1]]), // step 1, value 1
      mk(2, TrialState.PRUNED, [0.5], [[0, 0.5]]), // step 0: less progress than trial 1 despite the better value
      mk(3, TrialState.COMPLETE, [2]),
      mk(4, TrialState.RUNNING, null),
      mk(5, TrialState.PRUNED, [9], [[0, 4], [1, 9]]), // step 1, value 9
      mk(6, TrialState.PRUNED, null), // never reported: last
    ];
    expect(prunedScore(trials[1], 1)).toEqual([-1, 1]);
    expect(prunedScore(trials[6], 1)).toEqual([1, 0]);
    const ids = (xs: { number: number }[]) => xs.map((t) => t.number);
    let s = splitTrials(trials, [1], 3);
    expect(ids(s.below)).toEqual([0, 1, 3]);
    s = splitTrials(trials, [1], 4);
    expect(ids(s.below)).toEqual([0, 1, 3, 5]);
    expect(ids(s.above)).toEqual([2, 4, 6]);
    s = splitTrials(trials, [2], 1); // maximise: trial 0 (5) is best
    expect(ids(s.below)).toEqual([0]);
    s = splitTrials(trials, [1], 100);
    expect(ids(s.above)).toEqual([4]);
  });
});

async function tpeSequence(opts: ConstructorParameters<typeof TPESampler>[0], n: number, objective = quadratic): Promise<Study> {
  const study = await createStudy({ sampler: new TPESampler(opts), pruner: new NopPruner() });
  await study.optimize(objective, { nTrials: n });
  return study;
}

describe('TPESampler', () => {
  it('is reproducible with a seed (independent and multivariate) and differs across seeds', async () => {
    for (const multivariate of [false, true]) {
      const a = (await (await tpeSequence({ seed: 3, multivariate }, 25)).getTrials()).map((t) => t.params);
      const b = (await (await tpeSequence({ seed: 3, multivariate }, 25)).getTrials()).map((t) => t.params);
      const c = (await (await tpeSequence({ seed: 4, multivariate }, 25)).getTrials()).map((t) => t.params);
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
    }
  });

  it('beats random search on a quadratic over 60 trials, on average over 8 seeds, in both modes', async () => {
    for (const multivariate of [false, true]) {
      let tpe = 0;
      let rnd = 0;
      let wins = 0;
      for (let seed = 0; seed < 8; seed++) {
        const t = await (await tpeSequence({ seed, multivariate }, 60)).bestValue();
        const rs = await createStudy({ sampler: new RandomSampler(seed) });
        await rs.optimize(quadratic, { nTrials: 60 });
        const r = await rs.bestValue();
        tpe += t;
        rnd += r;
        if (t < r) wins++;
      }
      expect(tpe).toBeLessThan(rnd / 2);
      expect(wins).toBeGreaterThanOrEqual(6);
    }
  });

  it('stays in bounds and respects log, step, int and categorical after start-up', async () => {
    for (const multivariate of [false, true]) {
      const study = await tpeSequence({ seed: 1, multivariate, nStartupTrials: 5 }, 40, async (t) => {
        const lr = await t.suggestFloat('lr', 1e-5, 1e-1, { log: true });
        const q = await t.suggestFloat('q', 0, 1, { step: 0.25 });
        const k = await t.suggestInt('k', 2, 12, { step: 2 });
        const u = await t.suggestInt('u', 1, 1024, { log: true });
        const act = await t.suggestCategorical('act', ['relu', 'tanh', 'gelu']);
        return Math.abs(Math.log10(lr) + 3) + q + k / 12 + Math.abs(Math.log2(u) - 5) / 10 + (act === 'tanh' ? 0 : 1);
      });
      for (const t of await study.getTrials()) {
        const p = t.params as { lr: number; q: number; k: number; u: number; act: string };
        expect(p.lr).toBeGreaterThanOrEqual(1e-5);
        expect(p.lr).toBeLessThanOrEqual(1e-1);
        expect([0, 0.25, 0.5, 0.75, 1]).toContain(p.q);
        expect([2, 4, 6, 8, 10, 12]).toContain(p.k);
        expect(Number.isInteger(p.u) && p.u >= 1 && p.u <= 1024).toBe(true);
        expect(['relu', 'tanh', 'gelu']).toContain(p.act);
      }
      // It learns the categorical: most trials after start-up pick the good choice.
      const late = (await study.getTrials()).slice(20);
      expect(late.filter((t) => t.params.act === 'tanh').length).toBeGreaterThan(late.length / 2);
    }
  });

  it('handles conditional parameters (multivariate falls back to independent for branch params)', async () => {
    const study = await tpeSequence({ seed: 2, multivariate: true, nStartupTrials: 5 }, 40, async (t) => {
      const kind = await t.suggestCategorical('kind', ['a', 'b']);
      if (kind === 'a') return (await t.suggestFloat('xa', -5, 5)) ** 2 + 1;
      return ((await t.suggestFloat('xb', -5, 5)) - 1) ** 2;
    });
    const trials = await study.getTrials();
    expect(trials.every((t) => t.state === TrialState.COMPLETE)).toBe(true);
    for (const t of trials) expect(Object.keys(t.params).sort()).toEqual(t.params.kind === 'a' ? ['kind', 'xa'] : ['kind', 'xb']);
    expect(await study.bestValue()).toBeLessThan(0.2);
  });

  it('constant liar: a RUNNING trial of another worker changes the next draw only with the liar', async () => {
    // Worker a's trial 12 is either still RUNNING or already FAILED (failed trials are not history).
    // Without the liar, worker b's trial 13 draws the same point either way; with it, a's RUNNING
    // point counts as bad and moves b's draw.
    const run = async (constantLiar: boolean, aFails: boolean): Promise<Record<string, unknown>> => {
      const { InMemoryStorage, loadStudy } = await import('../src');
      const storage = new InMemoryStorage();
      const a = await createStudy({ storage, studyName: 's', sampler: new TPESampler({ seed: 7, constantLiar, nStartupTrials: 10 }) });
      for (let i = 0; i < 12; i++) {
        const t = await a.ask();
        await a.tell(t, await quadratic(t));
      }
      const a2 = await loadStudy({ storage, studyName: 's', sampler: new TPESampler({ seed: 99, constantLiar, nStartupTrials: 10 }) });
      const b2 = await loadStudy({ storage, studyName: 's', sampler: new TPESampler({ seed: 99, constantLiar, nStartupTrials: 10 }) });
      const ta = await a2.ask();
      await ta.suggestFloat('x', -10, 10);
      await ta.suggestFloat('y', -10, 10);
      if (aFails) await a2.tell(ta, { state: TrialState.FAIL });
      const tb = await b2.ask();
      await tb.suggestFloat('x', -10, 10);
      await tb.suggestFloat('y', -10, 10);
      expect(tb.number).toBe(13);
      return tb.params;
    };
    expect(await run(false, false)).toEqual(await run(false, true)); // the control
    expect(await run(true, false)).not.toEqual(await run(true, true));
  });

  it('pruned trials inform TPE: with only pruned trials past start-up it still samples', async () => {
    const study = await createStudy({ sampler: new TPESampler({ seed: 5, nStartupTrials: 3 }), pruner: new NopPruner() });
    for (let i = 0; i < 6; i++) {
      const t = await study.ask();
      const x = await t.suggestFloat('x', 0, 1);
      await t.report(0, x);
      await study.tell(t, { state: TrialState.PRUNED });
    }
    const t = await study.ask();
    const x = await t.suggestFloat('x', 0, 1);
    expect(x).toBeGreaterThanOrEqual(0);
    expect(x).toBeLessThanOrEqual(1);
  });
});

describe('one sampler instance across two studies', () => {
  it('the joint search space is recomputed for the second study', async () => {
    const sampler = new TPESampler({ seed: 1, nStartupTrials: 3 });
    const a = await createStudy({ sampler, pruner: new NopPruner() });
    await a.optimize(async (t) => (await t.suggestFloat('x', 0, 1)) + (await t.suggestFloat('y', 0, 1)), { nTrials: 6 });
    const b = await createStudy({ sampler, pruner: new NopPruner() });
    await b.optimize(async (t) => (await t.suggestFloat('u', 0, 1)) ** 2 + (await t.suggestFloat('v', 0, 1)) ** 2, { nTrials: 6 });
    // With a stale space ({x, y}) the relative draw for study b would be empty and every trial
    // would record a 'tpe:relative_params' of x and y; with the right one it holds u and v.
    const last = (await b.getTrials()).at(-1)!;
    expect(Object.keys(last.systemAttrs['tpe:relative_params'] as object).sort()).toEqual(['u', 'v']);
  });
});

describe('TPE group (conditional search spaces)', () => {
  it('GroupDecomposedSearchSpace splits parameters into always-together groups (hand-traced)', async () => {
    const { GroupDecomposedSearchSpace } = await import('../src/study/group-search-space');
    const f = { kind: 'float', low: 0, high: 1, log: false, step: null } as const;
    const mk = (number: number, names: string[]) => ({
      trialId: number, number, state: TrialState.COMPLETE, values: [0], datetimeStart: null, datetimeComplete: null,
      params: {}, distributions: Object.fromEntries(names.map((n) => [n, f])), userAttrs: {}, systemAttrs: {}, intermediateValues: new Map(),
    });
    const g = new GroupDecomposedSearchSpace();
    const names = (gs: Record<string, unknown>[]) => gs.map((x) => Object.keys(x).join('+'));
    expect(names(g.calculate([mk(0, ['kind', 'xa', 'ya'])]))).toEqual(['kind+xa+ya']);
    expect(names(g.calculate([mk(0, ['kind', 'xa', 'ya']), mk(1, ['kind', 'xb'])]))).toEqual(['kind', 'xa+ya', 'xb']);
    expect(names(g.calculate([mk(0, ['kind', 'xa', 'ya']), mk(1, ['kind', 'xb']), mk(2, ['kind', 'xa'])]))).toEqual(['kind', 'xa', 'ya', 'xb']);
  });

  it('models each branch jointly: relative draws cover both branches, and it optimises a conditional objective', async () => {
    const objective = async (t: import('../src').Trial): Promise<number> => {
      const kind = await t.suggestCategorical('kind', ['a', 'b']);
      if (kind === 'a') return ((await t.suggestFloat('xa', -5, 5)) - 1) ** 2 + ((await t.suggestFloat('ya', -5, 5)) - 1) ** 2 + 0.5;
      return ((await t.suggestFloat('xb', -5, 5)) + 2) ** 2 + ((await t.suggestFloat('yb', -5, 5)) - 3) ** 2;
    };
    const run = async (seed: number, group: boolean) => {
      const s = await createStudy({ sampler: new TPESampler({ seed, group, multivariate: true }), pruner: new NopPruner() });
      await s.optimize(objective, { nTrials: 60 });
      return s;
    };
    const s = await run(1, true);
    const last = (await s.getTrials()).at(-1)!;
    expect(Object.keys(last.systemAttrs['tpe:relative_params'] as object).sort()).toEqual(['kind', 'xa', 'xb', 'ya', 'yb']);
    expect((await (await run(1, true)).getTrials()).map((t) => t.params)).toEqual((await s.getTrials()).map((t) => t.params));
    // It optimises: well below random search over 6 seeds (the optimum is 0, in branch b).
    let withGroups = 0;
    let random = 0;
    for (let seed = 0; seed < 6; seed++) {
      withGroups += await (await run(seed, true)).bestValue();
      const r = await createStudy({ sampler: new RandomSampler(seed) });
      await r.optimize(objective, { nTrials: 60 });
      random += await r.bestValue();
    }
    expect(withGroups / 6).toBeLessThan(0.5);
    expect(withGroups).toBeLessThan(random / 2);
  });

  it('group needs multivariate', () => {
    expect(() => new TPESampler({ group: true, multivariate: false })).toThrow('group=true needs multivariate');
  });
});
