import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MlflowClient } from '@iccl/mlflow';
import { makeInat18Fixture } from '../../tools/fixtures/inat18-from-cifar';
import { ROOT, searchCli } from './support/cli';

/**
 * The headline job as a user runs it, on an iNaturalist-2018-format data set built from the shared
 * CIFAR-10 (official JSON schema and JPEG tree, long-tailed), with the smoke configuration, logging to a
 * real MLflow server; checked through MLflow's REST API. Then the same command again: the study resumes.
 */
describe('search:inat18 smoke, end to end', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-inat18-'));
  const dataDir = path.join(process.env.ICCL_DATA_CACHE ?? path.join(ROOT, '.data'), 'inat18-fixture');
  const journal = path.join(work, 'studies.journal');
  const uri = () => process.env.ICCL_TEST_MLFLOW_URI!;
  const study = `inat18-e2e-${Date.now().toString(36)}`;
  const args = () => [
    'run', '--space', 'inat18', '--configuration', 'smoke', '--study', study,
    '--data-dir', dataDir, '--storage', `journal:${journal}`, '--tracking', `mlflow:${uri()}`,
    '--runs-dir', path.join(work, 'runs'), '--reports-dir', path.join(work, 'reports'), '--device', 'cpu',
  ];

  it('runs the study, nests the trial runs under the study run in MLflow, and writes the report', async () => {
    const counts = await makeInat18Fixture(dataDir, { nMax: 150, imbalanceFactor: 30, valPerClass: 10 });
    // Every shot group is populated (Many > 100 > Medium >= 20 > Few), so every group's accuracy is logged.
    expect(counts[0]).toBe(150);
    expect(counts[counts.length - 1]).toBe(5);

    const r = searchCli(args());
    if (r.status !== 0) throw new Error(`search exited ${r.status}:\n${r.stderr.slice(-3000)}`);
    expect(fs.existsSync(path.join(work, 'reports', study, 'index.html'))).toBe(true);

    const client = new MlflowClient({ trackingUri: uri() });
    const exp = await client.getExperimentByName(study);
    expect(exp).toBeDefined();
    const { runs } = await client.searchRuns({ experimentIds: [exp!.experiment_id], maxResults: 100 });
    const parent = runs.find((x) => x.data.tags?.some((t) => t.key === 'mlflow.runName' && t.value === study) && !x.data.tags?.some((t) => t.key === 'mlflow.parentRunId'));
    expect(parent).toBeDefined();
    const children = runs.filter((x) => x.data.tags?.some((t) => t.key === 'mlflow.parentRunId' && t.value === parent!.info.run_id));
    expect(children).toHaveLength(2);
    for (const c of children) {
      expect(c.info.status).toBe('FINISHED');
      const params = Object.fromEntries((c.data.params ?? []).map((p) => [p.key, p.value]));
      for (const k of ['alpha', 'tau', 'centroidMomentum', 'samplerRatio']) expect(params[k]).toBeDefined();
      expect(params.dataset).toBe('inat18');
      const metrics = Object.fromEntries((c.data.metrics ?? []).map((m) => [m.key, m.value]));
      for (const k of ['val/top1', 'val/many', 'val/medium', 'val/few', 'test/top1', 'test/many', 'test/medium', 'test/few']) {
        expect(k in metrics).toBe(true);
      }
      expect(metrics['val/top1']).toBeGreaterThanOrEqual(0);
      expect(metrics['val/top1']).toBeLessThanOrEqual(1);
    }
    // The study run: what was searched and how, the best trial, the report and the trials table.
    const pparams = Object.fromEntries((parent!.data.params ?? []).map((p) => [p.key, p.value]));
    expect(pparams).toMatchObject({ space: 'inat18', configuration: 'smoke', sampler: 'tpe', pruner: 'median', objectives: 'val/top1', n_trials: '2' });
    const ptags = Object.fromEntries((parent!.data.tags ?? []).map((t) => [t.key, t.value]));
    expect(Number(ptags['best.value'])).toBeGreaterThanOrEqual(0);
    expect(ptags['best.param.tau']).toBeDefined();
    const top = (await client.listArtifacts(parent!.info.run_id)).map((a) => a.path);
    expect(top).toContain('search-space.json');
    const report = (await client.listArtifacts(parent!.info.run_id, 'report')).map((a) => a.path);
    expect(report).toEqual(expect.arrayContaining(['report/index.html', 'report/trials.csv']));
  });

  it('a second invocation resumes the same study instead of starting over', async () => {
    const client = new MlflowClient({ trackingUri: uri() });
    const exp = await client.getExperimentByName(study);
    const runsBefore = (await client.searchRuns({ experimentIds: [exp!.experiment_id], maxResults: 100 })).runs.map((x) => x.info.run_id).sort();
    const before = fs.readFileSync(journal, 'utf8');
    const r = searchCli(args());
    if (r.status !== 0) throw new Error(`search exited ${r.status}:\n${r.stderr.slice(-3000)}`);
    const after = fs.readFileSync(journal, 'utf8');
    // The budget (2 trials) was already met: no study and no trial is created again.
    const creates = (s: string, op: number) => s.split('\n').filter((l) => l.includes(`"op_code": ${op}`) || l.includes(`"op_code":${op}`)).length;
    expect(creates(after, 0)).toBe(creates(before, 0)); // CREATE_STUDY
    expect(creates(after, 4)).toBe(creates(before, 4)); // CREATE_TRIAL
    // ...and the tracking reattaches to the study's runs instead of creating new ones.
    const runsAfter = (await client.searchRuns({ experimentIds: [exp!.experiment_id], maxResults: 100 })).runs.map((x) => x.info.run_id).sort();
    expect(runsAfter).toEqual(runsBefore);
  });
});
