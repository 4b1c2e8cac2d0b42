import * as fs from 'node:fs';
import * as path from 'node:path';
import { MlflowClient } from '../src/client';
import { MlflowTrackingBackend, type MlflowBackendOptions } from '../src/backend';
import { LocalMlflowServer } from '../src/local-server';
import type { MlflowTracker } from '../src/tracker';
import { sync } from '../src/sync';
import { readRecords } from '../src/records';
import { KEY_REF_PREFIX } from '../src/run-open';
import { FAST_RETRY, recordingLogger, requireEnv, tmpDir, uniqueName } from './support/env';

const spoolsIn = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.spool.jsonl'));
const range = (n: number) => Array.from({ length: n }, (_, s) => s);
const FAST: MlflowBackendOptions['tracker'] = { flushIntervalMs: 100, retry: FAST_RETRY, probeIntervalMs: 300, waitMs: 1000, startWaitMs: 5000, closeGraceMs: 500 };

/**
 * The server goes away and comes back on the same port and store. This test owns its server (it
 * must stop and restart it), so it is one extra start for the test run.
 */
describe('outage', () => {
  jest.setTimeout(600_000); // each test restarts a real server: seconds on a quiet machine, minutes on a loaded one
  let server: LocalMlflowServer;
  const storeDir = tmpDir('outage-store');

  beforeAll(async () => {
    server = await LocalMlflowServer.start({ dir: storeDir, bin: requireEnv('ICCL_TEST_MLFLOW_BIN') });
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await server.launch(); // every test starts with the server up
  });

  const client = () => new MlflowClient({ trackingUri: server.uri, credentials: {}, timeoutMs: 15_000 });

  test('stop the server mid-run, keep logging, restart it: every metric point present exactly once', async () => {
    const c = client();
    const spoolDir = tmpDir('outage-spool');
    const logger = recordingLogger();
    const backend = new MlflowTrackingBackend({ client: c, experimentName: uniqueName('outage'), spoolDir, logger, handleSigint: false, tracker: FAST });
    const t = (await backend.startRun({ name: 'trial-0001' })) as MlflowTracker;
    expect(await t.whenOpened(120_000)).toBe(true);
    const logStep = (s: number) => t.logMetrics({ loss: 1 / (s + 1), acc: s / 100 }, s, 1_700_000_000_000 + s);
    t.logParams({ lr: 0.01 });
    for (let s = 0; s < 50; s++) logStep(s);
    await t.flush();

    await server.stop();
    const before = Date.now();
    for (let s = 50; s < 100; s++) logStep(s); // returns at once although the server is gone
    expect(Date.now() - before).toBeLessThan(500);
    await t.flush();
    expect(t.spooling).toBe(true);
    expect(spoolsIn(spoolDir)).toHaveLength(1);
    const artifact = path.join(tmpDir('outage-art'), 'ckpt.txt');
    fs.writeFileSync(artifact, 'during the outage');
    await t.logArtifact(artifact, 'ckpt');
    fs.rmSync(artifact); // the spool kept its own copy
    for (let s = 100; s < 120; s++) logStep(s);
    await t.flush();

    await server.launch(); // same port, same sqlite store
    for (let s = 120; s < 150; s++) logStep(s);
    await t.end('FINISHED');
    expect(await t.whenSettled(60_000)).toBe(true);
    await backend.close();

    expect(t.spooling).toBe(false);
    expect(spoolsIn(spoolDir)).toEqual([]);
    expect(t.stats.failed).toBe(0);
    expect(t.stats.spooled).toBeGreaterThan(0);
    expect(t.stats.replayed).toBe(t.stats.spooled);
    for (const key of ['loss', 'acc']) {
      const h = await c.getMetricHistory(t.runId, key);
      expect(h.map((m) => m.step).sort((a, b) => a - b)).toEqual(range(150));
    }
    const loss = await c.getMetricHistory(t.runId, 'loss');
    for (const m of loss) expect(m.value).toBeCloseTo(1 / (m.step + 1), 12);
    const run = await c.getRun(t.runId);
    expect(run.info.status).toBe('FINISHED');
    expect(await c.downloadArtifactText(run.info.artifact_uri, 'ckpt/ckpt.txt')).toBe('during the outage');
    expect(logger.lines.some((l) => /unreachable .*spooling to/.test(l))).toBe(true);
    expect(logger.lines.some((l) => /answers; replayed the spool/.test(l))).toBe(true);
  });

  test('server down when the study starts: runs are created when it answers, parents linked, nothing waits', async () => {
    const c = client();
    const spoolDir = tmpDir('outage-start');
    const experimentName = uniqueName('down-at-start');
    await server.stop();
    const backend = new MlflowTrackingBackend({ client: c, experimentName, spoolDir, logger: recordingLogger(), handleSigint: false, tracker: FAST });
    const t0 = Date.now();
    const study = (await backend.startRun({ name: 'study' })) as MlflowTracker;
    expect(study.runId.startsWith(KEY_REF_PREFIX)).toBe(true);
    const trials: MlflowTracker[] = [];
    for (let n = 0; n < 3; n++) {
      const t = (await backend.startRun({ name: `study#${n}`, parentRunId: study.runId, tags: { 'iccl.trial': String(n) } })) as MlflowTracker;
      t.logParams({ n });
      for (let s = 0; s < 20; s++) t.logMetrics({ loss: n + s / 100 }, s, 1_700_000_000_000 + s);
      await t.end(n === 1 ? 'KILLED' : 'FINISHED');
      trials.push(t);
    }
    await study.end('FINISHED');
    expect(Date.now() - t0).toBeLessThan(8000); // no call waited for the server beyond its bound
    await server.launch();
    for (const t of [study, ...trials]) expect(await t.whenSettled(60_000)).toBe(true);
    await backend.close();

    expect(study.runId).toMatch(/^[0-9a-f]{32}$/);
    const exp = await backend.experimentId();
    const runs = (await c.searchRuns({ experimentIds: [exp] })).runs;
    expect(runs).toHaveLength(4);
    const children = runs.filter((r) => r.data.tags.some((x) => x.key === 'mlflow.parentRunId' && x.value === study.runId));
    expect(children.map((r) => r.info.run_name).sort()).toEqual(['study#0', 'study#1', 'study#2']);
    for (const t of trials) {
      const h = await c.getMetricHistory(t.runId, 'loss');
      expect(h.map((m) => m.step).sort((a, b) => a - b)).toEqual(range(20));
    }
    expect(runs.map((r) => `${r.info.run_name}:${r.info.status}`).sort()).toEqual(['study#0:FINISHED', 'study#1:KILLED', 'study#2:FINISHED', 'study:FINISHED']);
    expect(spoolsIn(spoolDir)).toEqual([]);
  });

  test('server still down at the end: one closing line, and the next start on the same spool replays it', async () => {
    const c = client();
    const spoolDir = tmpDir('outage-end');
    const experimentName = uniqueName('down-at-end');
    const logger = recordingLogger();
    const a = new MlflowTrackingBackend({ client: c, experimentName, spoolDir, logger, handleSigint: false, tracker: FAST });
    const t = (await a.startRun({ name: 'trial' })) as MlflowTracker;
    expect(await t.whenOpened(120_000)).toBe(true); // on the server before the outage
    const runId = t.runId;
    for (let s = 0; s < 10; s++) t.logMetrics({ m: s }, s, 1_700_000_000_000 + s);
    await t.flush();
    await server.stop();
    for (let s = 10; s < 30; s++) t.logMetrics({ m: s }, s, 1_700_000_000_000 + s);
    await t.end('FAILED', 'killed');
    const late = (await a.startRun({ name: 'late' })) as MlflowTracker; // never on the server yet
    late.logMetrics({ m: 1 }, 0, 1_700_000_000_000);
    await late.end('FINISHED');
    await a.close();
    const closing = logger.lines.filter((l) => l.includes('spool file(s) in'));
    expect(closing).toHaveLength(1);
    expect(closing[0]).toContain(spoolDir);
    expect(closing[0]).toContain('next search');
    expect(closing[0]).toContain('did not take everything'); // it was reached before the outage
    const files = spoolsIn(spoolDir);
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.flatMap((f) => readRecords(path.join(spoolDir, f)).map((r) => r.record.op))).toContain('end');

    await server.launch();
    const b = new MlflowTrackingBackend({ client: c, experimentName, spoolDir, logger: recordingLogger(), handleSigint: false, tracker: FAST });
    expect(b.pendingSpools.length).toBe(files.length);
    const other = (await b.startRun({ name: 'after' })) as MlflowTracker; // waits behind the replay, never before it
    await other.end('FINISHED');
    expect(await other.whenSettled(60_000)).toBe(true);
    await b.close();
    expect(spoolsIn(spoolDir)).toEqual([]);
    const h = await c.getMetricHistory(runId, 'm');
    expect(h.map((m) => m.step).sort((x, y) => x - y)).toEqual(range(30));
    expect((await c.getRun(runId)).info.status).toBe('FAILED');
    const runs = (await c.searchRuns({ experimentIds: [await b.experimentId()] })).runs;
    expect(runs.map((r) => `${r.info.run_name}:${r.info.status}`).sort()).toEqual(['after:FINISHED', 'late:FINISHED', 'trial:FAILED']);
  });

  test('a spool replayed twice (sync-cli after an automatic replay) sends nothing twice', async () => {
    const c = client();
    const spoolDir = tmpDir('outage-twice');
    const backend = new MlflowTrackingBackend({ client: c, experimentName: uniqueName('twice'), spoolDir, logger: recordingLogger(), handleSigint: false, tracker: FAST });
    const t = (await backend.startRun({ name: 'trial-0002' })) as MlflowTracker;
    expect(await t.whenOpened(120_000)).toBe(true); // on the server before the outage
    await server.stop();
    for (let s = 0; s < 30; s++) t.logMetrics({ m: s }, s, 1_700_000_000_000 + s);
    await t.end('FAILED', 'killed');
    await backend.close();
    const [file] = spoolsIn(spoolDir).map((f) => path.join(spoolDir, f));
    const copy = file + '.copy.jsonl';
    fs.copyFileSync(file, copy);
    await server.launch();
    const r1 = await sync(file, { client: c });
    expect(r1.runsCreated).toBe(0); // the live run is found again by id and key
    expect(r1.runIds[t.runKey]).toBe(t.runId);
    const r2 = await sync(file, { client: c });
    expect(r2.applied).toBe(0);
    expect(r2.skipped).toBe(r1.applied);
    const h = await c.getMetricHistory(t.runId, 'm');
    expect(h.map((m) => m.step).sort((a, b) => a - b)).toEqual(range(30));
    expect((await c.getRun(t.runId)).info.status).toBe('FAILED');
    fs.rmSync(copy);
  });
});
