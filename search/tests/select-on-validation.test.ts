/**
 * Validation selects, test is read once: the objective, the intermediate values the pruner sees, the
 * best trial and the study run's best values come from val/*; the selected trial's test/* is shown
 * apart. A space and a study written with eval/* still run, open and report.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JsonlTrackingBackend, readJsonl } from '@iccl/trainer-api';
import { ATTR, openStudy, runStudy } from '../src/driver/run-study';
import type { Pruner } from '../src/pruners/base';
import { sig4, writeReport } from '../src/report';
import { RandomSampler } from '../src/samplers/random';
import { CompiledSpace, parseSearchSpace } from '../src/spaces';
import { metricValue } from '../src/spaces/metric-names';
import { JournalStorage } from '../src/storages/journal';
import { TrialState, type FrozenTrial } from '../src/study/trial-types';
import { FIXTURES, tmpDir } from './helpers';

const XS = [0.1, 0.5, 0.9]; // val/top1 = 1 - x^2: 0.99, 0.75, 0.19; test/top1 = x^2: 0.01, 0.25, 0.81

function space(metric: string | string[], legacy: boolean) {
  return parseSearchSpace(
    {
      name: 'val-test',
      plugin: path.join(FIXTURES, 'val-test-plugin.ts'),
      fixed: { epochs: 3, legacy },
      params: { x: { type: 'float', low: 0, high: 1 } },
      objectives: [metric].flat().map((m) => ({ metric: m, direction: 'maximize' })),
    },
    'val-test',
  );
}

async function run(dir: string, metric: string | string[], legacy: boolean) {
  const storage = new JournalStorage(path.join(dir, 's.journal'));
  const compiled = new CompiledSpace(space(metric, legacy), 'val-test');
  const seen: Array<[number, number[]]> = [];
  // records the intermediate values it is asked about (what pruning decides on), never prunes
  const pruner: Pruner = { prune: async (_s, t: FrozenTrial) => (seen.push([t.params.x as number, [...t.intermediateValues.values()]]), false) };
  const sampler = new RandomSampler(1);
  const study = await openStudy({ studyName: 'sel', space: compiled, storage, sampler, pruner });
  for (const x of XS) await study.enqueueTrial({ x });
  const tracking = new JsonlTrackingBackend(path.join(dir, 'tracking'));
  await runStudy({ studyName: 'sel', space: compiled, storage, sampler, pruner, nTrials: 3, workers: 1, runsDir: path.join(dir, 'runs'), tracking });
  const studyRunId = (await storage.getStudySystemAttrs(study.studyId))[ATTR.trackingRunId] as string;
  const studyRun = readJsonl(path.join(dir, 'tracking', `${studyRunId}.jsonl`));
  return { storage, study, compiled, seen, studyRun };
}

const tagsOf = (recs: ReturnType<typeof readJsonl>) => Object.assign({}, ...recs.filter((r) => r.kind === 'tags').map((r) => (r as { tags: Record<string, string> }).tags));

describe('select on validation, report test once', () => {
  it('objective, pruner, best trial and the study run read val/*; test/* is shown apart', async () => {
    const dir = tmpDir('select-val');
    const { storage, study, compiled, seen, studyRun } = await run(dir, 'val/top1', false);
    expect(compiled.notes).toEqual([]);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.state)).toEqual([TrialState.COMPLETE, TrialState.COMPLETE, TrialState.COMPLETE]);
    expect(trials.map((t) => t.values![0])).toEqual(XS.map((x) => 1 - x * x));
    // what the pruner saw: the val/top1 reports of each step
    const x0 = seen.filter(([x]) => x === 0.1).pop()!;
    expect(x0[1]).toEqual([1, 2, 3].map((e) => 0.99 * (e / 3)));
    const best = await study.bestTrial();
    expect(best.params.x).toBe(0.1); // best on validation; on test it would be x = 0.9
    // the study run: best on validation, the selected trial's test apart, labelled
    const tags = tagsOf(studyRun);
    expect(tags['best.value']).toBe(String(0.99));
    expect(tags['selected_test.top1']).toBe(String(0.1 * 0.1));
    expect(tags['selected_test.note']).toMatch(/untouched by the selection/);
    const metrics = studyRun.filter((r) => r.kind === 'metrics').map((r) => (r as { metrics: Record<string, number> }).metrics);
    expect(metrics.pop()).toMatchObject({ 'best/value': 0.99, 'selected_test/top1': 0.1 * 0.1 });
    // the report: best trial by validation, its test accuracy in a section of its own
    const html = fs.readFileSync(await writeReport(study, { outDir: path.join(dir, 'report'), objectiveNames: compiled.objectiveMetrics }), 'utf8');
    expect(html).toContain(`#${best.number}: val/top1 = ${sig4(0.99)}`);
    expect(html).toContain('Test accuracy of the selected trial (untouched by the selection)');
    expect(html).toContain(`<th>test/top1</th><th>test/many</th><th>test/medium</th><th>test/few</th></tr><tr><td>${sig4(0.1 * 0.1)}</td>`);
    await storage.close();
  }, 120_000);

  it('an eval/* space and its study still run (read as val/*, with one line) and report', async () => {
    const dir = tmpDir('select-legacy');
    const { storage, study, compiled } = await run(dir, 'eval/top1', true);
    expect(compiled.objectiveMetrics).toEqual(['val/top1']);
    expect(compiled.notes).toEqual([
      'val-test: eval/top1 read as val/top1: trainers now select on a validation split (val/*) and report test/* once per trial, which no choice reads',
    ]);
    const trials = await study.getTrials();
    expect(trials.map((t) => t.values![0])).toEqual(XS.map((x) => 1 - x * x)); // eval/top1 of a trainer that still reports it
    expect([...trials[0].intermediateValues.values()]).toEqual([1, 2, 3].map((e) => 0.99 * (e / 3)));
    const html = fs.readFileSync(await writeReport(study, { outDir: path.join(dir, 'report'), objectiveNames: ['eval/top1'] }), 'utf8');
    expect(html).toContain(`#0: eval/top1 = ${sig4(0.99)}`);
    expect(html).toContain('This study predates validation splits');
    await storage.close();
  }, 120_000);

  it('two objectives: the Pareto front is chosen on val/*, its test/* shown apart', async () => {
    const dir = tmpDir('select-multi');
    const { storage, study, compiled } = await run(dir, ['val/top1', 'val/few'], false);
    const front = (await study.bestTrials()).map((t) => t.params.x);
    expect(front).toEqual([0.1]); // both validation objectives are largest at x = 0.1; test would pick 0.9
    const html = fs.readFileSync(await writeReport(study, { outDir: path.join(dir, 'report'), objectiveNames: compiled.objectiveMetrics }), 'utf8');
    expect(html).toContain('Test accuracy of the Pareto front (untouched by the selection)');
    expect(html).toContain(`<tr><td>#0</td><td>${sig4(0.1 * 0.1)}</td>`);
    await storage.close();
  }, 120_000);

  it('a space that selects on test is told so in one line', () => {
    const c = new CompiledSpace(space('test/top1', false), 'val-test');
    expect(c.notes).toEqual(['val-test: test/top1 is test accuracy: this study selects on the test split, and its best trial\'s test numbers are optimistic; name val/* to select on validation']);
  });

  it('metricValue: a name, or for val/X a trainer\'s eval/X', () => {
    expect(metricValue({ 'val/top1': 0.5, 'eval/top1': 0.4 }, 'val/top1')).toBe(0.5);
    expect(metricValue({ 'eval/top1': 0.4 }, 'val/top1')).toBe(0.4);
    expect(metricValue({ 'test/top1': 0.4 }, 'val/top1')).toBeUndefined();
    expect(metricValue({ loss: 1 }, 'loss')).toBe(1);
  });
});
