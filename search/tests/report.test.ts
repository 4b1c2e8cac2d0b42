import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  fanova,
  fitTree,
  MIN_TRIALS_FOR_IMPORTANCE,
  paramImportances,
  parsePerClassCsv,
  PER_CLASS_ATTR,
  shotBands,
  sig4,
  treeVariances,
  writeReport,
  type TreeNode,
} from '../src/report';
import { Rng } from '../src/study/rng';
import { createStudy } from '../src/study/create';
import { InMemoryStorage } from '../src/storages/memory';
import { RandomSampler } from '../src/samplers/random';
import { NopPruner } from '../src/pruners/nop';
import { TrialState } from '../src/study/trial-types';
import { PYTHON, python, tmpDir } from './helpers';

/** Reads a CSV with Python's csv module: an independent reader of what csv-stringify wrote. */
function readCsv(file: string): string[][] {
  return JSON.parse(
    execFileSync(
      PYTHON,
      [
        '-c',
        'import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline="")))))',
        file,
      ],
      { encoding: 'utf8' },
    ),
  ) as string[][];
}

describe('fANOVA', () => {
  it('a hand-built tree: exact total and main-effect variances', () => {
    // On [0,1]^2: x0 <= .5 -> 0; else x1 <= .5 -> 1, else 3. Leaves (value, volume): (0,.5) (1,.25) (3,.25).
    // f0 = 1; V = .5*1 + .25*0 + .25*4 = 1.5. f(x0) = 0 | 2 -> V0 = 1. f(x1) = .5 | 1.5 -> V1 = .25.
    const leaf = (value: number): TreeNode => ({ feature: -1, threshold: 0, left: -1, right: -1, value });
    const nodes: TreeNode[] = [
      { feature: 0, threshold: 0.5, left: 1, right: 2, value: 1 },
      leaf(0),
      { feature: 1, threshold: 0.5, left: 3, right: 4, value: 2 },
      leaf(1),
      leaf(3),
    ];
    const v = treeVariances(nodes, [
      { lo: 0, hi: 1 },
      { lo: 0, hi: 1 },
    ]);
    expect(v.total).toBeCloseTo(1.5, 12);
    expect(v.main[0]).toBeCloseTo(1, 12);
    expect(v.main[1]).toBeCloseTo(0.25, 12);
    // an uneven domain: x0 in [0, 2] puts 3/4 of the volume on the right of .5
    const w = treeVariances(nodes, [
      { lo: 0, hi: 2 },
      { lo: 0, hi: 1 },
    ]);
    // leaves (0,.25) (1,.375) (3,.375): f0 = 1.5; V = .25*2.25 + .375*.25 + .375*2.25 = 1.5; f(x0) = 0 | 2 -> V0 = .25*2.25 + .75*.25 = .75
    expect(w.total).toBeCloseTo(1.5, 12);
    expect(w.main[0]).toBeCloseTo(0.75, 12);
  });

  it('a tree fitted to a step in one feature splits on it alone', () => {
    const X = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9].map((a, i) => [a, [0.5, 0.1, 0.9, 0.3, 0.8, 0.2][i]]);
    const y = X.map(([a]) => (a > 0.5 ? 1 : 0));
    const tree = fitTree(X, y, [0, 1, 2, 3, 4, 5], new Rng(0), {
      maxDepth: 64,
      minSamplesSplit: 2,
      minSamplesLeaf: 1,
    });
    expect(tree).toHaveLength(3);
    expect(tree[0].feature).toBe(0);
    expect(tree[0].threshold).toBeCloseTo(0.45, 12);
    const r = fanova(X, y, [
      { lo: 0, hi: 1 },
      { lo: 0, hi: 1 },
    ])!;
    expect(r.importance[0]).toBeGreaterThan(0.9);
    expect(fanova([[0], [1]], [2, 2], [{ lo: 0, hi: 1 }])).toBeNull();
  });

  it("agrees with Optuna's FanovaImportanceEvaluator on the same trials", () => {
    const rng = new Rng(1);
    const X = Array.from({ length: 60 }, () => [rng.random(), rng.random(), rng.random()]);
    const y = X.map(([a, b]) => a * a + 0.5 * b);
    const ours = fanova(
      X,
      y,
      [0, 1, 2].map(() => ({ lo: 0, hi: 1 })),
    )!.importance;
    const file = path.join(tmpDir('fanova'), 'rows.json');
    fs.writeFileSync(file, JSON.stringify({ names: ['a', 'b', 'c'], X, y }));
    const theirs = JSON.parse(python('optuna_fanova.py', [file])) as Record<string, number>;
    ['a', 'b', 'c'].forEach((n, j) => expect(Math.abs(ours[j] - theirs[n])).toBeLessThan(0.04));
    expect(ours[0]).toBeGreaterThan(0.8); // a carries most of the variance, c none
    expect(ours[2]).toBeLessThan(0.03);
  });

  it('says why instead of ranking below the minimum number of complete trials', async () => {
    const study = await createStudy({
      storage: new InMemoryStorage(),
      studyName: 'few',
      direction: 'maximize',
      sampler: new RandomSampler(3),
      pruner: new NopPruner(),
    });
    for (let i = 0; i < 4; i++) {
      const t = await study.ask();
      await study.tell(t, await t.suggestFloat('x', 0, 1));
    }
    const r = paramImportances(await study.getTrials());
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(
      `at least ${MIN_TRIALS_FOR_IMPORTANCE} complete trials; this study has 4`,
    );
    const html = fs.readFileSync(await writeReport(study, { outDir: tmpDir('report-few') }), 'utf8');
    const section = html.slice(html.indexOf('>Parameter importances<'));
    expect(section.slice(0, section.indexOf('<h2', 5))).not.toContain('<svg');
    expect(html).toContain('this study has 4, too few');
  });
});

describe('report helpers', () => {
  it('sig4: four significant digits, small integers as they are', () => {
    expect(sig4(0.123456)).toBe('0.1235');
    expect(sig4(2 / 3)).toBe('0.6667');
    expect(sig4(1234.5)).toBe('1235');
    expect(sig4(0.00012346)).toBe('0.0001235');
    expect(sig4(128)).toBe('128');
    expect(sig4(123456)).toBe('1.235e+5');
    expect(sig4(undefined)).toBe('');
  });
  it('parses the per-class table the trainers write, quoted names and empty accuracies included', () => {
    const pc = parsePerClassCsv(
      'class,name,group,train_count,test_count,accuracy\n0,plane,many,200,10,0.75\n1,"car, ""red""",few,10,0,\r\n2,bird,medium,30,5,0.4\n',
    );
    expect(pc).toEqual({
      name: ['plane', 'car, "red"', 'bird'],
      group: ['many', 'few', 'medium'],
      trainCount: [200, 10, 30],
      testCount: [10, 0, 5],
      accuracy: [0.75, null, 0.4],
    });
    // bands: few [10] .. medium [30] .. many [200], edges at sqrt(10*30) and sqrt(30*200)
    const b = shotBands(pc);
    expect(b.map((x) => x.group)).toEqual(['few', 'medium', 'many']);
    expect(b[0].hi).toBeCloseTo(Math.sqrt(300), 12);
    expect(b[1].lo).toBeCloseTo(Math.sqrt(300), 12);
    expect(b[1].hi).toBeCloseTo(Math.sqrt(6000), 12);
    expect(() => parsePerClassCsv('class,name\n0,a\n')).toThrow('per-class table: no column "group"');
  });
});

describe('writeReport', () => {
  it('writes an offline HTML report with every plot and all trials as CSV', async () => {
    const study = await createStudy({
      storage: new InMemoryStorage(),
      studyName: 'rep',
      direction: 'maximize',
      sampler: new RandomSampler(3),
      pruner: new NopPruner(),
    });
    for (let i = 0; i < 12; i++) {
      const t = await study.ask();
      const lr = await t.suggestFloat('lr', 1e-4, 1, { log: true });
      const opt = await t.suggestCategorical('opt', ['sgd', 'adam']);
      await study.storage.setTrialIntermediateValue(t.trialId, 1, lr / 2);
      await study.storage.setTrialUserAttr(t.trialId, 'metrics', {
        'eval/top1': lr,
        'eval/many': 0.8,
        'eval/medium': 0.5,
        'eval/few': i / 100,
      });
      await study.storage.setTrialUserAttr(t.trialId, PER_CLASS_ATTR, {
        name: ['a', 'b', 'c', 'd'],
        group: ['many', 'medium', 'few', 'few'],
        trainCount: [400, 60, 12, 5],
        testCount: [20, 20, 20, 0],
        accuracy: [0.9, 0.6, 0.2 + i / 100, null],
      });
      if (i === 5) {
        await study.storage.setTrialSystemAttr(t.trialId, 'fail_reason', 'out of memory');
        await study.tell(t, { state: TrialState.FAIL });
      } else await study.tell(t, opt === 'adam' ? lr : lr / 2);
    }
    const dir = tmpDir('report');
    const file = await writeReport(study, { outDir: dir, objectiveNames: ['eval/top1'] });
    const html = fs.readFileSync(file, 'utf8');
    for (const h of [
      'Best trial',
      'Many / Medium / Few',
      'Per-class accuracy',
      'Head and tail: top-1 against Few',
      'Trials',
      'Optimisation history',
      'Parameter importances',
      'Parallel coordinates',
      'Slices',
      'Intermediate values',
      'Failed trials',
    ]) {
      expect(html).toContain(`>${h}<`);
    }
    // per-class, head/tail, history, importances, parallel coordinates, slices, intermediate values
    expect((html.match(/<svg/g) ?? []).length).toBe(7);
    expect(html).toContain('fANOVA over a random forest (64 trees) fitted to 11 complete trials');
    expect(html).not.toContain('could not render');
    expect(html).not.toMatch(/<script|src="http|href="http/); // offline: nothing to fetch
    expect(html).toContain('out of memory');
    const best = await study.bestTrial();
    expect(html).toContain(`#${best.number}: eval/top1 = ${sig4(best.values![0])}`);
    expect(html).toContain(`<td>${sig4(best.number / 100)}</td>`); // its eval/few
    // the trials table: one row per trial, Many/Medium/Few to four digits
    const table = html.slice(html.indexOf('<table class="trials">'));
    expect((table.slice(0, table.indexOf('</table>')).match(/<tr>/g) ?? []).length).toBe(13);
    expect(table).toContain('<td>#5</td><td>FAIL</td>');
    expect(table).toContain('<td>0.8000</td><td>0.5000</td>');
    // the Pareto front of top-1 against Few, in its note
    const pts = (await study.getTrials()).map(
      (t) => ({ ...(t.userAttrs.metrics as Record<string, number>), n: t.number }) as Record<string, number>,
    );
    const front = pts.filter(
      (p) =>
        !pts.some(
          (q) =>
            q['eval/top1'] >= p['eval/top1'] &&
            q['eval/few'] >= p['eval/few'] &&
            (q['eval/top1'] > p['eval/top1'] || q['eval/few'] > p['eval/few']),
        ),
    );
    expect(html).toContain(`the Pareto front of the two (${front.map((p) => `#${p.n}`).join(', ')})`);
    const rows = readCsv(path.join(dir, 'trials.csv'));
    expect(rows[0].slice(0, 5)).toEqual(['number', 'state', 'value:eval/top1', 'param:lr', 'param:opt']);
    expect(rows.length).toBe(13);
    expect(rows[6][1]).toBe('FAIL');
    expect(Number(rows[1][2])).toBe((await study.getTrials())[0].values![0]);
  });

  it('draws the Pareto front of a multi-objective study and lists its members', async () => {
    const study = await createStudy({
      storage: new InMemoryStorage(),
      studyName: 'mo',
      directions: ['maximize', 'maximize'],
      sampler: new RandomSampler(0),
      pruner: new NopPruner(),
    });
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
    const html = fs.readFileSync(
      await writeReport(study, { outDir: dir, objectiveNames: ['eval/top1', 'eval/few'] }),
      'utf8',
    );
    expect(html).toContain('>Pareto front<');
    expect(html).toContain('3 trial(s) on the Pareto front: #0, #2, #4');
  });
});
