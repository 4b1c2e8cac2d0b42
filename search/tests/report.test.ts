import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mainEffectImportance, writeReport } from '../src/report';
import { createStudy } from '../src/study/create';
import { InMemoryStorage } from '../src/storages/memory';
import { RandomSampler } from '../src/samplers/random';
import { NopPruner } from '../src/pruners/nop';
import { TrialState } from '../src/study/trial-types';
import { PYTHON, tmpDir } from './helpers';

/** Reads a CSV with Python's csv module: an independent reader of what csv-stringify wrote. */
function readCsv(file: string): string[][] {
  return JSON.parse(execFileSync(PYTHON, ['-c', 'import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline="")))))', file], { encoding: 'utf8' })) as string[][];
}

describe('mainEffectImportance', () => {
  it('matches a hand computation: variance of bin means over total variance, normalised', () => {
    // y = 1,2,3,4; mean 2.5, Var 1.25. a in 2 bins {1,2},{3,4}: Var of means = 1 -> 0.8.
    // c groups {1,3},{2,4}: Var of means = 0.25 -> 0.2. Normalised: 0.8 / (0.8+0.2), 0.2 / 1.
    const rows = [
      { params: { a: 0.1, c: 'p' }, value: 1 },
      { params: { a: 0.2, c: 'q' }, value: 2 },
      { params: { a: 0.3, c: 'p' }, value: 3 },
      { params: { a: 0.4, c: 'q' }, value: 4 },
    ];
    const imp = mainEffectImportance(rows, 2);
    expect(imp.a).toBeCloseTo(0.8, 12);
    expect(imp.c).toBeCloseTo(0.2, 12);
  });
  it('gives 0 to every parameter when the objective is constant, and {} for one trial', () => {
    expect(mainEffectImportance([{ params: { a: 1 }, value: 3 }, { params: { a: 2 }, value: 3 }])).toEqual({ a: 0 });
    expect(mainEffectImportance([{ params: { a: 1 }, value: 3 }])).toEqual({});
  });
});

describe('writeReport', () => {
  it('writes an offline HTML report with every plot and all trials as CSV', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), studyName: 'rep', direction: 'maximize', sampler: new RandomSampler(3), pruner: new NopPruner() });
    for (let i = 0; i < 12; i++) {
      const t = await study.ask();
      const lr = await t.suggestFloat('lr', 1e-4, 1, { log: true });
      const opt = await t.suggestCategorical('opt', ['sgd', 'adam']);
      await study.storage.setTrialIntermediateValue(t.trialId, 1, lr / 2);
      await study.storage.setTrialUserAttr(t.trialId, 'metrics', { 'eval/top1': lr, 'eval/many': 0.8, 'eval/medium': 0.5, 'eval/few': i / 100 });
      if (i === 5) {
        await study.storage.setTrialSystemAttr(t.trialId, 'fail_reason', 'out of memory');
        await study.tell(t, { state: TrialState.FAIL });
      } else await study.tell(t, opt === 'adam' ? lr : lr / 2);
    }
    const dir = tmpDir('report');
    const file = await writeReport(study, { outDir: dir, objectiveNames: ['eval/top1'] });
    const html = fs.readFileSync(file, 'utf8');
    for (const h of ['Best trial', 'Many / Medium / Few', 'Optimisation history', 'Parameter importances', 'Parallel coordinates', 'Slices', 'Intermediate values', 'Failed trials']) {
      expect(html).toContain(`>${h}<`);
    }
    expect((html.match(/<svg/g) ?? []).length).toBe(5); // history, importances, parallel coordinates, slices, intermediate values
    expect(html).not.toContain('could not render');
    expect(html).not.toMatch(/<script|src="http|href="http/); // offline: nothing to fetch
    expect(html).toContain('out of memory');
    const best = await study.bestTrial();
    expect(html).toContain(`#${best.number}: eval/top1 = ${best.values![0]}`);
    expect(html).toContain(`<td>${(best.number / 100).toFixed(4)}</td>`); // its eval/few
    const rows = readCsv(path.join(dir, 'trials.csv'));
    expect(rows[0].slice(0, 5)).toEqual(['number', 'state', 'value:eval/top1', 'param:lr', 'param:opt']);
    expect(rows.length).toBe(13);
    expect(rows[6][1]).toBe('FAIL');
    expect(Number(rows[1][2])).toBe((await study.getTrials())[0].values![0]);
  });

  it('draws the Pareto front of a multi-objective study and lists its members', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), studyName: 'mo', directions: ['maximize', 'maximize'], sampler: new RandomSampler(0), pruner: new NopPruner() });
    // (1,4) (2,3) (3,1) are non-dominated; (1,1) and (2,2) are dominated.
    for (const v of [
      [1, 4],
      [1, 1],
      [2, 3],
      [2, 2],
      [3, 1],
    ]) {
      const t = await study.ask();
      await t.suggestFloat('x', 0, 1);
      await study.tell(t, v);
    }
    const dir = tmpDir('report-mo');
    const html = fs.readFileSync(await writeReport(study, { outDir: dir, objectiveNames: ['eval/top1', 'eval/few'] }), 'utf8');
    expect(html).toContain('>Pareto front<');
    expect(html).toContain('3 trial(s) on the Pareto front: #0, #2, #4');
  });
});
