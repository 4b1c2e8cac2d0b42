import * as fs from 'node:fs';
import * as path from 'node:path';
import { MlflowClient } from '../src/client';
import { MlflowTrackingBackend } from '../src/backend';
import type { MlflowTracker } from '../src/tracker';
import { fetchTransport, type HttpRequest, type Transport } from '../src/transport';
import { FAST_RETRY, PATIENT, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

function spyingClient(): { client: MlflowClient; requests: HttpRequest[] } {
  const requests: HttpRequest[] = [];
  const transport: Transport = (req) => {
    requests.push(req);
    return fetchTransport(req);
  };
  return { client: new MlflowClient({ trackingUri: requireEnv('ICCL_TEST_MLFLOW_URI'), credentials: {}, transport }), requests };
}

const tagsOf = (tags: { key: string; value: string }[]) => Object.fromEntries(tags.map((t) => [t.key, t.value]));

const LONG_DIGEST = 'c65866349c0faeb1613c2663595432779ded5a7d6d69629a1b2a772b6ea02b50';

describe('MlflowTrackingBackend + MlflowTracker against a real server', () => {
  test('a study parent run with nested trial runs, tags, params, stepped metrics, inputs, statuses', async () => {
    const { client } = spyingClient();
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('nested'), spoolDir: tmpDir('spool'), logger, tags: { backend: 'tensorflow', device: 'cpu', 'tf.version': '2.18.0' }, handleSigint: false, tracker: PATIENT });
    const study = await backend.startRun({ name: 'study-a', tags: { 'iccl.study': 'study-a' } });
    const trials: MlflowTracker[] = [];
    for (let n = 0; n < 3; n++) {
      const t = (await backend.startRun({ name: `trial-000${n}`, parentRunId: study.runId, tags: { 'iccl.trial.number': String(n) } })) as MlflowTracker;
      t.logParams({ lr: 0.1 * (n + 1), 'model.depth': 20, mixup: n === 1 });
      for (let step = 0; step < 5; step++) t.logMetrics({ loss: 1 / (step + 1 + n), acc: step / 10 + n }, step);
      // Trial 2 carries a sha256 digest, as the data layer writes it: longer than the server's 36 characters.
      t.logInput({ name: 'cifar10-lt', digest: n === 2 ? LONG_DIGEST : 'd1g3st', source: '/data/cifar10', context: 'train', profile: { classes: 10 } });
      t.setTags({ 'iccl.trial.state': n === 2 ? 'FAIL' : 'COMPLETE' });
      trials.push(t);
    }
    await trials[0].end('FINISHED');
    await trials[1].end('KILLED', 'pruned at step 4');
    await trials[2].end('FAILED', 'NaN loss');
    await study.end('FINISHED');
    await backend.close();

    const exp = await backend.experimentId();
    const all = await client.searchRuns({ experimentIds: [exp] });
    expect(all.runs).toHaveLength(4);
    const parent = all.runs.find((r) => r.info.run_id === study.runId)!;
    expect(parent.info.status).toBe('FINISHED');
    const ptags = tagsOf(parent.data.tags);
    expect(ptags['mlflow.runName']).toBe('study-a');
    expect(ptags['mlflow.source.type']).toBe('LOCAL');
    expect(ptags['mlflow.user']).toBeTruthy();
    expect(ptags['mlflow.source.git.commit']).toMatch(/^[0-9a-f]{40}$/);
    expect(ptags.backend).toBe('tensorflow');
    expect(ptags['tf.version']).toBe('2.18.0');
    const children = await client.searchRuns({ experimentIds: [exp], filter: `tags.\`mlflow.parentRunId\` = '${study.runId}'`, orderBy: ['tags.`iccl.trial.number` ASC'] });
    expect(children.runs.map((r) => r.info.run_name).sort()).toEqual(['trial-0000', 'trial-0001', 'trial-0002']);
    const byName = Object.fromEntries(children.runs.map((r) => [r.info.run_name, r]));
    expect(byName['trial-0000'].info.status).toBe('FINISHED');
    expect(byName['trial-0001'].info.status).toBe('KILLED');
    expect(byName['trial-0002'].info.status).toBe('FAILED');
    expect(tagsOf(byName['trial-0001'].data.tags)['iccl.end_reason']).toBe('pruned at step 4');
    expect(tagsOf(byName['trial-0002'].data.tags)['iccl.trial.state']).toBe('FAIL');
    expect(tagsOf(byName['trial-0000'].data.tags)['iccl.tracking.failed']).toBe('0');
    const t1 = byName['trial-0001'];
    expect(tagsOf(t1.data.params)).toEqual({ lr: String(0.1 * 2), 'model.depth': '20', mixup: 'true' });
    const hist = await client.getMetricHistory(t1.info.run_id, 'loss');
    expect(hist.map((m) => [m.step, m.value])).toEqual([0, 1, 2, 3, 4].map((s) => [s, 1 / (s + 2)]));
    expect(t1.inputs.dataset_inputs[0].dataset.name).toBe('cifar10-lt');
    expect(JSON.parse(t1.inputs.dataset_inputs[0].dataset.profile!)).toEqual({ classes: 10 });
    const t2 = byName['trial-0002'];
    expect(t2.inputs.dataset_inputs[0].dataset.digest).toBe(LONG_DIGEST.slice(0, 36));
    expect(JSON.parse(t2.inputs.dataset_inputs[0].dataset.profile!)).toEqual({ classes: 10, digest: LONG_DIGEST });
    expect(tagsOf(t2.data.tags)['iccl.tracking.failed']).toBe('0');
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toEqual([]);
  });

  test('many items in one go are split into log-batch calls within the limits, none lost', async () => {
    const { client, requests } = spyingClient();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('split'), spoolDir: tmpDir('spool'), logger: recordingLogger(), handleSigint: false, tracker: { ...PATIENT,  flushIntervalMs: 60_000 } });
    const t = (await backend.startRun({ name: 'big' })) as MlflowTracker;
    const params: Record<string, number> = {};
    for (let i = 0; i < 250; i++) params[`p${i}`] = i;
    t.logParams(params);
    const tags: Record<string, string> = {};
    for (let i = 0; i < 130; i++) tags[`t${i}`] = `v${i}`;
    t.setTags(tags);
    for (let step = 0; step < 300; step++) t.logMetrics(Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`m${k}`, step * 10 + k])), step);
    await t.end('FINISHED');
    await backend.close();
    const batches = requests.filter((r) => r.url.endsWith('/runs/log-batch')).map((r) => JSON.parse(r.body as string) as { metrics: unknown[]; params: unknown[]; tags: unknown[] });
    expect(batches.length).toBeGreaterThanOrEqual(4);
    for (const b of batches) {
      expect(b.metrics.length).toBeLessThanOrEqual(1000);
      expect(b.params.length).toBeLessThanOrEqual(100);
      expect(b.tags.length).toBeLessThanOrEqual(100);
      expect(b.metrics.length + b.params.length + b.tags.length).toBeLessThanOrEqual(1000);
    }
    const run = await client.getRun(t.runId);
    expect(run.data.params).toHaveLength(250);
    expect(run.data.tags.filter((x) => /^t\d+$/.test(x.key))).toHaveLength(130);
    for (const k of [0, 9]) {
      const h = await client.getMetricHistory(t.runId, `m${k}`);
      expect(h.map((m) => m.step)).toEqual(Array.from({ length: 300 }, (_, s) => s));
      expect(h.map((m) => m.value)).toEqual(Array.from({ length: 300 }, (_, s) => s * 10 + k));
    }
  });

  test('oversize param and tag values go to artifacts with a tag saying so; bad keys are counted, not thrown', async () => {
    const { client } = spyingClient();
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('oversize'), spoolDir: tmpDir('spool'), logger, handleSigint: false, tracker: PATIENT });
    const t = (await backend.startRun({ name: 'big-values' })) as MlflowTracker;
    const longParam = 'p'.repeat(7000) + 'END';
    const longTag = 't'.repeat(9000) + 'END';
    t.logParams({ 'search.space': longParam, ok: 1 });
    t.setTags({ notes: longTag });
    t.logParams({ ['k'.repeat(251)]: 1 });
    t.logMetrics({ fine: 1, ['m'.repeat(300)]: 2 }, 0);
    await t.end('FINISHED');
    const run = await client.getRun(t.runId);
    const params = tagsOf(run.data.params);
    const tags = tagsOf(run.data.tags);
    expect(params.ok).toBe('1');
    expect(params['search.space'].length).toBeLessThanOrEqual(6000);
    expect(params['search.space']).toMatch(/7003 chars; full value in artifact oversize\/params\/search\.space\.txt/);
    expect(tags['iccl.oversize.params.search.space']).toBe('oversize/params/search.space.txt');
    expect(tags.notes.length).toBeLessThanOrEqual(8000);
    expect(tags['iccl.oversize.tags.notes']).toBe('oversize/tags/notes.txt');
    expect(await client.downloadArtifactText(run.info.artifact_uri, 'oversize/params/search.space.txt')).toBe(longParam);
    expect(await client.downloadArtifactText(run.info.artifact_uri, 'oversize/tags/notes.txt')).toBe(longTag);
    expect(t.stats.failed).toBe(2);
    expect(tags['iccl.tracking.failed']).toBe('2');
    expect(logger.lines.filter((l) => /not logged: param key .* 251 chars/.test(l))).toHaveLength(1);
    expect((await client.getMetricHistory(t.runId, 'fine')).map((m) => m.value)).toEqual([1]);
  });

  test('a refused item (param changed) is counted while the rest of its batch is kept', async () => {
    const { client } = spyingClient();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('conflict'), spoolDir: tmpDir('spool'), logger: recordingLogger(), handleSigint: false, tracker: PATIENT });
    const t = (await backend.startRun({ name: 'r' })) as MlflowTracker;
    t.logParams({ lr: 0.1 });
    await t.flush();
    t.logParams({ lr: 0.2, wd: 5e-4 }); // MLflow params are immutable: lr=0.2 is refused
    t.logMetrics({ loss: 3 }, 1);
    await expect(t.end('FINISHED')).resolves.toBeUndefined();
    const run = await client.getRun(t.runId);
    expect(tagsOf(run.data.params)).toEqual({ lr: '0.1', wd: '0.0005' });
    expect((await client.getMetricHistory(t.runId, 'loss')).map((m) => m.value)).toEqual([3]);
    expect(t.stats.failed).toBe(1);
  });

  test('artifacts: logArtifact uploads into a normalised folder; escapes are refused and counted', async () => {
    const { client } = spyingClient();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('artifacts'), spoolDir: tmpDir('spool'), logger: recordingLogger(), handleSigint: false, tracker: PATIENT });
    const t = (await backend.startRun({ name: 'r' })) as MlflowTracker;
    const dir = tmpDir('a');
    const f = path.join(dir, 'confusion.csv');
    fs.writeFileSync(f, 'a,b\n1,2\n');
    await t.logArtifact(f, 'eval//./plots/');
    await t.logArtifact(f, '../outside');
    await t.logArtifact(path.join(dir, 'missing.txt'));
    await t.end('FINISHED');
    expect(await client.downloadArtifactText((await client.getRun(t.runId)).info.artifact_uri, 'eval/plots/confusion.csv')).toBe('a,b\n1,2\n');
    expect((await client.listArtifacts(t.runId)).map((x) => x.path)).toEqual(['eval']);
    expect(t.stats.failed).toBe(2);
  });

  test('resume reattaches to the run and sets it RUNNING again', async () => {
    const { client } = spyingClient();
    const backend = new MlflowTrackingBackend({ client, experimentName: uniqueName('resume'), spoolDir: tmpDir('spool'), logger: recordingLogger(), handleSigint: false, tracker: PATIENT });
    const a = await backend.startRun({ name: 'study' });
    a.logMetrics({ x: 1 }, 0);
    await a.end('KILLED');
    expect((await client.getRun(a.runId)).info.status).toBe('KILLED');
    const b = await backend.startRun({ name: 'study', resumeRunId: a.runId, tags: { resumed: 'yes' } });
    expect(b.runId).toBe(a.runId);
    expect((await client.getRun(a.runId)).info.status).toBe('RUNNING');
    b.logMetrics({ x: 2 }, 1);
    await b.end('FINISHED');
    const run = await client.getRun(a.runId);
    expect(run.info.status).toBe('FINISHED');
    expect(tagsOf(run.data.tags).resumed).toBe('yes');
    expect((await client.getMetricHistory(a.runId, 'x')).map((m) => [m.step, m.value])).toEqual([[0, 1], [1, 2]]);
    const logger = recordingLogger();
    const lost = new MlflowTrackingBackend({ client, experimentName: uniqueName('resume-lost'), spoolDir: tmpDir('spool'), logger, handleSigint: false, tracker: PATIENT });
    const c = (await lost.startRun({ name: 'x', resumeRunId: 'ffffffffffffffffffffffffffffffff' })) as MlflowTracker;
    await c.end('FINISHED');
    expect(c.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(c.runId).not.toBe('ffffffffffffffffffffffffffffffff');
    expect((await client.getRun(c.runId)).info.status).toBe('FINISHED');
    expect(logger.lines.some((l) => /resumeRunId ffffffffffffffffffffffffffffffff: no such run .*logging to a new run/.test(l))).toBe(true);
  });

  test('an unreachable server at start does not stop the run: startRun returns, one warning, operations spooled', async () => {
    const logger = recordingLogger();
    const spoolDir = tmpDir('spool');
    const backend = new MlflowTrackingBackend({ client: new MlflowClient({ trackingUri: 'http://127.0.0.1:9', credentials: {}, timeoutMs: 1000 }), spoolDir, logger, handleSigint: false, tracker: { retry: FAST_RETRY, closeGraceMs: 100 } });
    const t0 = Date.now();
    const t = (await backend.startRun({ name: 'x' })) as MlflowTracker;
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(t.runId).toMatch(/^iccl-run-key:[0-9a-f-]{36}$/);
    t.logMetrics({ a: 1 }, 0);
    await t.end('FINISHED');
    expect(t.spooling).toBe(true);
    await backend.close();
    expect(logger.lines.filter((l) => /unreachable \(while creating the run\)/.test(l))).toHaveLength(1);
    expect(fs.readdirSync(spoolDir).filter((n) => n.endsWith('.spool.jsonl'))).toHaveLength(1);
  });
});
